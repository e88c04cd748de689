import { expect } from 'chai';
import type { CID } from 'multiformats/cid';
import { SIGNING_DOMAINS, signBody } from '../../../src/node/protocol/signing.js';
import {
  createTip,
  decodeTip,
  encodeTip,
  MAX_TIP_BYTES,
  MAX_TIP_REASON_BYTES,
  verifyTip,
} from '../../../src/node/protocol/tip.js';
import { cidOf, expectError, MINUTE, NOW, newPeer, type TestPeer, tamper } from './helpers.js';

describe('protocol: tip', () => {
  let alice: TestPeer;
  let bob: TestPeer;
  let cid: CID;

  before(async () => {
    alice = await newPeer();
    bob = await newPeer();
    cid = await cidOf('dropper');
  });

  it('round-trips through bytes and verifies', async () => {
    const tip = await createTip(alice.key, { cid, category: 'malware', reason: 'Ransomware dropper', time: NOW });
    const bytes = encodeTip(tip);
    const decoded = decodeTip(bytes);
    expect(decoded).to.deep.include({ category: 'malware', reason: 'Ransomware dropper', time: NOW });
    expect(decoded.sender).to.deep.equal(alice.id);
    expect(encodeTip(decoded)).to.deep.equal(bytes);
    await verifyTip(decoded, { sender: alice.id, now: NOW });
    await verifyTip(decoded, { now: NOW });
  });

  it('refuses a tip from another peer than the connection, a changed tip, and another kind of signature', async () => {
    const tip = await createTip(alice.key, { cid, category: 'malware', reason: 'r', time: NOW });
    await expectError(() => verifyTip(tip, { sender: bob.id, now: NOW }), 'SignerMismatchError');
    await expectError(() => verifyTip({ ...tip, category: 'spam' }, { now: NOW }), 'BadSignatureError');
    await expectError(() => verifyTip({ ...tip, sender: bob.id }, { now: NOW }), 'BadSignatureError');
    const body = { cid, category: 'malware', reason: 'r', sender: alice.id, time: NOW };
    const signature = await signBody(alice.key, SIGNING_DOMAINS.advert, body);
    await expectError(() => verifyTip({ ...tip, signature }, { now: NOW }), 'BadSignatureError');
  });

  it('refuses stale and future tips', async () => {
    const old = await createTip(alice.key, { cid, category: 'malware', reason: 'r', time: NOW - 11 * MINUTE });
    await expectError(() => verifyTip(old, { now: NOW }), 'StaleMessageError', /old/);
    const future = await createTip(alice.key, { cid, category: 'malware', reason: 'r', time: NOW + 2 * MINUTE });
    await expectError(() => verifyTip(future, { now: NOW }), 'StaleMessageError', /future/);
  });

  it('refuses malformed tips', async () => {
    const bytes = encodeTip(await createTip(alice.key, { cid, category: 'malware', reason: 'r', time: NOW }));
    await expectError(() => decodeTip(new Uint8Array(MAX_TIP_BYTES + 1)), 'MessageTooLargeError');
    await expectError(() => decodeTip(tamper(bytes, (v) => (v.category = ''))), 'MessageDecodeError', /empty/);
    await expectError(() => decodeTip(tamper(bytes, (v) => (v.reason = 7))), 'MessageDecodeError', /"reason"/);
    await expectError(() => decodeTip(tamper(bytes, (v) => (v.url = 'x'))), 'MessageDecodeError', /"url"/);
    await expectError(() => decodeTip(tamper(bytes, (v) => delete v.cid)), 'MessageDecodeError', /"cid"/);
    await expectError(
      () => createTip(alice.key, { cid, category: 'malware', reason: 'x'.repeat(MAX_TIP_REASON_BYTES + 1) }),
      'MessageTooLargeError',
    );
    await expectError(() => createTip(alice.key, { cid, category: '', reason: 'r' }), 'MessageDecodeError');
  });
});
