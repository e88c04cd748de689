import { expect } from 'chai';
import { entryId } from '../../../src/lists/entry-id.js';
import { type Advert, createAdvert } from '../../../src/node/protocol/advert.js';
import {
  createSighting,
  decodeSighting,
  encodeSighting,
  MAX_SIGHTING_BYTES,
  verifySighting,
} from '../../../src/node/protocol/sighting.js';
import { cidOf, expectError, MINUTE, NOW, newPeer, type TestPeer, tamper } from './helpers.js';

describe('protocol: sighting', () => {
  let alice: TestPeer;
  let bob: TestPeer;
  let advert: Advert;

  before(async () => {
    alice = await newPeer();
    bob = await newPeer();
    advert = await createAdvert(alice.key, { cid: await cidOf('listed'), size: 6, name: 'bad.bin', time: NOW });
  });

  it('is made from an advert, verifies, and round-trips through bytes', async () => {
    const sighting = createSighting(advert);
    expect(sighting.fromPeer).to.deep.equal(alice.id);
    expect(sighting.entryId).to.deep.equal(entryId(advert.cid));
    await verifySighting(sighting, { now: NOW });
    const bytes = encodeSighting(sighting);
    const decoded = decodeSighting(bytes);
    expect(encodeSighting(decoded)).to.deep.equal(bytes);
    await verifySighting(decoded, { now: NOW + 60 * MINUTE });
  });

  it("refuses a sighting whose advert is not fromPeer's", async () => {
    const sighting = { ...createSighting(advert), fromPeer: bob.id };
    await expectError(() => verifySighting(sighting, { now: NOW }), 'EvidenceMismatchError', /signed by/);
  });

  it('refuses a sighting whose entry id is not the entry id of its CID', async () => {
    const other = await cidOf('other');
    const sighting = { ...createSighting(advert), entryId: entryId(other) };
    await expectError(() => verifySighting(sighting, { now: NOW }), 'EvidenceMismatchError', /entry id/);
  });

  it('refuses a sighting of another CID than its advert offers', async () => {
    const other = await cidOf('other');
    const sighting = { ...createSighting(advert), cid: other, entryId: entryId(other) };
    await expectError(() => verifySighting(sighting, { now: NOW }), 'EvidenceMismatchError', /offers/);
  });

  it('refuses a sighting whose advert signature does not verify', async () => {
    const forged = { ...advert, size: 7 };
    await expectError(() => verifySighting(createSighting(forged), { now: NOW }), 'BadSignatureError');
  });

  it('refuses adverts older than a day, or from the future', async () => {
    const sighting = createSighting(advert);
    await verifySighting(sighting, { now: NOW + 23 * 60 * MINUTE });
    await expectError(() => verifySighting(sighting, { now: NOW + 25 * 60 * MINUTE }), 'StaleMessageError', /old/);
    await expectError(() => verifySighting(sighting, { now: NOW - 5 * MINUTE }), 'StaleMessageError', /future/);
  });

  it('refuses malformed sightings, naming the nested advert', async () => {
    const bytes = encodeSighting(createSighting(advert));
    await expectError(() => decodeSighting(new Uint8Array(MAX_SIGHTING_BYTES + 1)), 'MessageTooLargeError');
    await expectError(
      () => decodeSighting(tamper(bytes, (v) => (v.entryId = new Uint8Array(31)))),
      'MessageDecodeError',
      /"entryId" must be 32 bytes/,
    );
    await expectError(
      () => decodeSighting(tamper(bytes, (v) => ((v.advert as Record<string, unknown>).extra = true))),
      'MessageDecodeError',
      /sighting's advert has an unexpected field "extra"/,
    );
    await expectError(() => decodeSighting(tamper(bytes, (v) => (v.advert = []))), 'MessageDecodeError', /not a map/);
  });
});
