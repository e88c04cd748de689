import { expect } from 'chai';
import { createAdvert } from '../../../src/node/protocol/advert.js';
import { completeEdge, type EdgeAttestation, edgeStatement, signEdgeHalf } from '../../../src/node/protocol/edge.js';
import { comparePeers } from '../../../src/node/protocol/peer.js';
import {
  createReport,
  decodeReport,
  encodeReport,
  MAX_REPORT_BYTES,
  MAX_REPORT_EDGES,
  MAX_REPORT_SIGHTINGS,
  type Report,
  verifyReport,
} from '../../../src/node/protocol/report.js';
import { SequenceTracker } from '../../../src/node/protocol/sequence.js';
import { createSighting, type Sighting } from '../../../src/node/protocol/sighting.js';
import { SIGNING_DOMAINS, signBody } from '../../../src/node/protocol/signing.js';
import { cidOf, expectError, MINUTE, NOW, newPeer, type TestPeer, tamper } from './helpers.js';

describe('protocol: report', () => {
  let reporter: TestPeer;
  let bob: TestPeer;
  let carol: TestPeer;
  let edges: EdgeAttestation[];
  let sightings: Sighting[];

  async function edgeBetween(x: TestPeer, y: TestPeer, time = NOW): Promise<EdgeAttestation> {
    const statement = edgeStatement(x.id, y.id, time);
    const [first, second] = comparePeers(x.id, y.id) < 0 ? [x, y] : [y, x];
    return completeEdge(statement, await signEdgeHalf(first.key, statement), await signEdgeHalf(second.key, statement));
  }

  before(async () => {
    reporter = await newPeer();
    bob = await newPeer();
    carol = await newPeer();
    edges = [await edgeBetween(reporter, bob), await edgeBetween(carol, reporter)];
    sightings = [
      createSighting(await createAdvert(bob.key, { cid: await cidOf('one'), size: 3, time: NOW - MINUTE })),
      createSighting(await createAdvert(carol.key, { cid: await cidOf('two'), size: 3, name: 'x', time: NOW })),
    ];
  });

  it('round-trips through bytes and verifies, with every edge and sighting in it', async () => {
    const report = await createReport(reporter.key, { seq: 1, time: NOW, edges, sightings });
    const bytes = encodeReport(report);
    const decoded = decodeReport(bytes);
    expect(decoded.reporter).to.deep.equal(reporter.id);
    expect(decoded).to.deep.include({ seq: 1, time: NOW });
    expect(decoded.edges).to.deep.equal(edges);
    expect(decoded.sightings).to.have.length(2);
    expect(encodeReport(decoded)).to.deep.equal(bytes);
    await verifyReport(decoded, { reporter: reporter.id, now: NOW });
  });

  it('round-trips an empty report', async () => {
    const report = decodeReport(encodeReport(await createReport(reporter.key, { seq: 0, time: NOW })));
    expect(report.edges).to.deep.equal([]);
    expect(report.sightings).to.deep.equal([]);
    await verifyReport(report, { now: NOW });
  });

  it('refuses a report from another peer than the connection, or with a changed field', async () => {
    const report = await createReport(reporter.key, { seq: 1, time: NOW, edges, sightings });
    await expectError(() => verifyReport(report, { reporter: bob.id, now: NOW }), 'SignerMismatchError');
    const bytes = encodeReport(report);
    await expectError(
      () => verifyReport(decodeReport(tamper(bytes, (v) => (v.seq = 2))), { now: NOW }),
      'BadSignatureError',
    );
    const fewer = decodeReport(tamper(bytes, (v) => (v.sightings as unknown[]).pop()));
    await expectError(() => verifyReport(fewer, { now: NOW }), 'BadSignatureError');
  });

  it('refuses a report body signed as another kind of message', async () => {
    const report = await createReport(reporter.key, { seq: 1, time: NOW });
    const body = { reporter: reporter.id, seq: 1, time: NOW, edges: [], sightings: [] };
    expect(await signBody(reporter.key, SIGNING_DOMAINS.report, body)).to.deep.equal(report.signature);
    const signature = await signBody(reporter.key, SIGNING_DOMAINS.verdictSnapshot, body);
    await expectError(() => verifyReport({ ...report, signature }, { now: NOW }), 'BadSignatureError');
  });

  it('refuses a signed report whose edge has only one valid signature, naming the edge', async () => {
    const bad = { ...edges[1], sigB: edges[1].sigA };
    const report = await createReport(reporter.key, { seq: 1, time: NOW, edges: [edges[0], bad] });
    await expectError(() => verifyReport(report, { now: NOW }), 'BadSignatureError', /^edges\[1\]: /);
  });

  it('refuses a signed report whose sighting does not prove what it claims, naming the sighting', async () => {
    const wrong = { ...sightings[0], fromPeer: carol.id };
    const report = await createReport(reporter.key, { seq: 1, time: NOW, sightings: [sightings[1], wrong] });
    await expectError(() => verifyReport(report, { now: NOW }), 'EvidenceMismatchError', /^sightings\[1\]: /);
  });

  it("refuses edges the reporter is not an end of, and sightings of the reporter's own adverts", async () => {
    const foreign = await edgeBetween(bob, carol);
    await expectError(() => createReport(reporter.key, { seq: 1, edges: [foreign] }), 'EvidenceMismatchError', /end/);
    const own = createSighting(await createAdvert(reporter.key, { cid: await cidOf('mine'), size: 1, time: NOW }));
    await expectError(() => createReport(reporter.key, { seq: 1, sightings: [own] }), 'EvidenceMismatchError');
    const report = await createReport(reporter.key, { seq: 1, time: NOW });
    await expectError(() => verifyReport({ ...report, edges: [foreign] }, { now: NOW }), 'EvidenceMismatchError');
  });

  it('refuses stale and future reports, and stale evidence inside', async () => {
    const old = await createReport(reporter.key, { seq: 1, time: NOW - 11 * MINUTE });
    await expectError(() => verifyReport(old, { now: NOW }), 'StaleMessageError', /old/);
    const future = await createReport(reporter.key, { seq: 1, time: NOW + 2 * MINUTE });
    await expectError(() => verifyReport(future, { now: NOW }), 'StaleMessageError', /future/);
    const oldEdge = await edgeBetween(reporter, bob, NOW - 2 * 60 * MINUTE);
    const report = await createReport(reporter.key, { seq: 1, time: NOW, edges: [oldEdge] });
    await expectError(() => verifyReport(report, { now: NOW }), 'StaleMessageError', /^edges\[0\]: /);
    await verifyReport(report, { now: NOW, edgeMaxAgeMs: 3 * 60 * MINUTE });
  });

  it('refuses more than 1,000 edges or sightings, and more than 1 MiB', async () => {
    const tooManyEdges = Array.from({ length: MAX_REPORT_EDGES + 1 }, () => edges[0]);
    await expectError(
      () => createReport(reporter.key, { seq: 1, edges: tooManyEdges }),
      'MessageTooLargeError',
      /1001/,
    );
    const tooManySightings = Array.from({ length: MAX_REPORT_SIGHTINGS + 1 }, () => sightings[0]);
    await expectError(
      () => createReport(reporter.key, { seq: 1, sightings: tooManySightings }),
      'MessageTooLargeError',
    );
    // The limits hold on the receiving side too, for a sender that ignores them.
    const bytes = encodeReport(await createReport(reporter.key, { seq: 1, time: NOW }));
    const crafted = tamper(bytes, (v) => (v.edges = tooManyEdges.map((e) => ({ ...e }))));
    await expectError(() => decodeReport(crafted), 'MessageTooLargeError', /"edges" has 1001 items/);
    await expectError(() => decodeReport(new Uint8Array(MAX_REPORT_BYTES + 1)), 'MessageTooLargeError');
    const full = await createReport(reporter.key, {
      seq: 1,
      edges: Array.from({ length: MAX_REPORT_EDGES }, () => edges[0]),
      sightings: Array.from({ length: MAX_REPORT_SIGHTINGS }, () => sightings[0]),
    });
    expect(encodeReport(full).length).to.be.below(MAX_REPORT_BYTES);
    const fat = createSighting(
      await createAdvert(bob.key, { cid: await cidOf('fat'), size: 1, name: 'n'.repeat(256), time: NOW }),
    );
    const huge = { ...full, sightings: Array.from({ length: 3 * MAX_REPORT_SIGHTINGS }, () => fat) };
    await expectError(() => encodeReport(huge), 'MessageTooLargeError', /bytes encoded, over the limit of 1048576/);
  });

  it('refuses malformed reports, naming the nested part', async () => {
    const bytes = encodeReport(await createReport(reporter.key, { seq: 1, time: NOW, edges, sightings }));
    await expectError(() => decodeReport(bytes.subarray(1)), 'MessageDecodeError');
    await expectError(() => decodeReport(tamper(bytes, (v) => (v.edges = {}))), 'MessageDecodeError', /must be a list/);
    await expectError(
      () => decodeReport(tamper(bytes, (v) => ((v.edges as Record<string, unknown>[])[1].time = 'now'))),
      'MessageDecodeError',
      /report's edges\[1\]'s "time"/,
    );
    await expectError(
      () => decodeReport(tamper(bytes, (v) => delete (v.sightings as Record<string, unknown>[])[0].advert)),
      'MessageDecodeError',
      /sightings\[0\] has no "advert"/,
    );
    await expectError(() => decodeReport(tamper(bytes, (v) => (v.seq = -1))), 'MessageDecodeError', /"seq"/);
  });

  it('is refused when replayed: the server tracks sequence numbers per reporter', async () => {
    const tracker = new SequenceTracker();
    const first: Report = await createReport(reporter.key, { seq: 7, time: NOW });
    await verifyReport(first, { now: NOW });
    tracker.accept(first.reporter, first.seq);
    // The same signed bytes again verify, but their sequence number is spent.
    await verifyReport(decodeReport(encodeReport(first)), { now: NOW });
    await expectError(() => tracker.accept(first.reporter, first.seq), 'ReplayedSequenceError', /not above/);
    tracker.accept(reporter.id, 8);
  });
});
