import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { expect } from 'chai';
import {
  completeEdge,
  createEdgeHalf,
  decodeEdge,
  decodeEdgeHalf,
  edgeStatement,
  encodeEdge,
  encodeEdgeHalf,
  signEdgeHalf,
  verifyEdge,
  verifyEdgeHalf,
} from '../../../src/node/protocol/edge.js';
import { comparePeers } from '../../../src/node/protocol/peer.js';
import { SIGNING_DOMAINS, signBody } from '../../../src/node/protocol/signing.js';
import { expectError, MINUTE, NOW, newPeer, type TestPeer, tamper } from './helpers.js';

describe('protocol: edge attestation', () => {
  let alice: TestPeer;
  let bob: TestPeer;
  let carol: TestPeer;

  before(async () => {
    alice = await newPeer();
    bob = await newPeer();
    carol = await newPeer();
  });

  /** The edge between Alice and Bob, signed by both. */
  async function aliceBob(time = NOW) {
    const statement = edgeStatement(alice.id, bob.id, time);
    const [first, second] = comparePeers(alice.id, bob.id) < 0 ? [alice, bob] : [bob, alice];
    const sigA = await signEdgeHalf(first.key, statement);
    const sigB = await signEdgeHalf(second.key, statement);
    return { statement, sigA, sigB, edge: await completeEdge(statement, sigA, sigB) };
  }

  it('orders the ends canonically, whichever end builds the statement', () => {
    const x = edgeStatement(alice.id, bob.id, NOW);
    const y = edgeStatement(peerIdFromPrivateKey(bob.key), peerIdFromPrivateKey(alice.key).toString(), NOW);
    expect(x).to.deep.equal(y);
    expect(comparePeers(x.a, x.b)).to.be.below(0);
    expect(() => edgeStatement(alice.id, alice.id, NOW)).to.throw(TypeError, /two different peers/);
  });

  it('completes, verifies and round-trips an edge both ends signed', async () => {
    const { edge } = await aliceBob();
    await verifyEdge(edge, { now: NOW });
    const bytes = encodeEdge(edge);
    const decoded = decodeEdge(bytes);
    expect(decoded).to.deep.equal(edge);
    await verifyEdge(decoded, { now: NOW });
  });

  it('exchanges halves: each end checks the other half came from its neighbour, then countersigns', async () => {
    const statement = edgeStatement(alice.id, bob.id, NOW);
    const half = decodeEdgeHalf(encodeEdgeHalf(await createEdgeHalf(alice.key, statement)));
    await verifyEdgeHalf(half, { from: alice.id, now: NOW });
    await expectError(() => verifyEdgeHalf(half, { from: carol.id, now: NOW }), 'SignerMismatchError', /came from/);
    const mine = await signEdgeHalf(bob.key, half);
    const [sigA, sigB] = comparePeers(alice.id, bob.id) < 0 ? [half.signature, mine] : [mine, half.signature];
    await verifyEdge(await completeEdge(half, sigA, sigB), { now: NOW });
  });

  it('refuses to let a third peer sign or send a half of an edge it is not an end of', async () => {
    const statement = edgeStatement(alice.id, bob.id, NOW);
    await expectError(() => signEdgeHalf(carol.key, statement), 'SignerMismatchError', /not an end/);
    const signature = await signBody(carol.key, SIGNING_DOMAINS.edge, statement);
    const half = { ...statement, signer: carol.id, signature };
    await expectError(() => verifyEdgeHalf(half, { now: NOW }), 'SignerMismatchError', /not an end/);
  });

  it('refuses an edge with only one valid signature', async () => {
    const { statement, sigA, sigB, edge } = await aliceBob();
    await expectError(() => completeEdge(statement, sigA, sigA), 'BadSignatureError', /end "b"/);
    await expectError(() => completeEdge(statement, new Uint8Array(64), sigB), 'BadSignatureError', /end "a"/);
    await expectError(() => verifyEdge({ ...edge, sigB: new Uint8Array(64) }, { now: NOW }), 'BadSignatureError');
    // Carol signing in Bob's place does not make an edge.
    const carolSig = await signBody(carol.key, SIGNING_DOMAINS.edge, statement);
    const forged = comparePeers(alice.id, bob.id) < 0 ? { ...edge, sigB: carolSig } : { ...edge, sigA: carolSig };
    await expectError(() => verifyEdge(forged, { now: NOW }), 'BadSignatureError');
    // Nor does swapping the two signatures.
    await expectError(
      () => verifyEdge({ ...edge, sigA: edge.sigB, sigB: edge.sigA }, { now: NOW }),
      'BadSignatureError',
    );
  });

  it('refuses signatures over another statement or of another kind', async () => {
    const { edge } = await aliceBob();
    await expectError(() => verifyEdge({ ...edge, time: NOW + 1 }, { now: NOW }), 'BadSignatureError');
    await expectError(() => verifyEdge({ ...edge, b: carol.id }, { now: NOW }), 'BadSignatureError');
    const statement = { a: edge.a, b: edge.b, time: edge.time };
    const [keyA, keyB] = comparePeers(alice.id, bob.id) < 0 ? [alice.key, bob.key] : [bob.key, alice.key];
    const sigA = await signBody(keyA, SIGNING_DOMAINS.advert, statement);
    const sigB = await signBody(keyB, SIGNING_DOMAINS.advert, statement);
    await expectError(() => verifyEdge({ ...statement, sigA, sigB }, { now: NOW }), 'BadSignatureError');
  });

  it('refuses stale and future edges', async () => {
    const { edge: old } = await aliceBob(NOW - 61 * MINUTE);
    await expectError(() => verifyEdge(old, { now: NOW }), 'StaleMessageError', /old/);
    await verifyEdge(old, { now: NOW, maxAgeMs: 2 * 60 * MINUTE });
    const { edge: future } = await aliceBob(NOW + 5 * MINUTE);
    await expectError(() => verifyEdge(future, { now: NOW }), 'StaleMessageError', /future/);
  });

  it('refuses malformed edges', async () => {
    const { edge } = await aliceBob();
    const bytes = encodeEdge(edge);
    await expectError(() => decodeEdge(Uint8Array.of(1, 2, 3)), 'MessageDecodeError');
    await expectError(() => decodeEdge(new Uint8Array(4096)), 'MessageTooLargeError');
    const cases: [(v: Record<string, unknown>) => void, RegExp][] = [
      [(v) => ([v.a, v.b] = [v.b, v.a]), /"a" < "b"/],
      [(v) => (v.b = v.a), /"a" < "b"/],
      [(v) => delete v.sigB, /no "sigB"/],
      [(v) => (v.sigC = v.sigA), /unexpected field "sigC"/],
      [(v) => (v.time = -5), /"time"/],
      [(v) => (v.a = 'alice'), /"a"/],
    ];
    for (const [change, message] of cases) {
      await expectError(() => decodeEdge(tamper(bytes, change)), 'MessageDecodeError', message);
    }
    const half = encodeEdgeHalf(await createEdgeHalf(alice.key, edge));
    await expectError(() => decodeEdgeHalf(tamper(half, (v) => delete v.signer)), 'MessageDecodeError', /"signer"/);
    await expectError(() => edgeStatement(alice.id, bob.id, -1), 'MessageDecodeError', /"time"/);
  });
});
