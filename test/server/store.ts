import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { ReplayedSequenceError } from '../../src/node/protocol/errors.js';
import {
  type NewReport,
  type NewSighting,
  ServerStore,
  TipAlreadyDecidedError,
  TipNotFoundError,
  VerdictSequenceError,
} from '../../src/server/store.js';
import { removeDir } from '../helpers/dirs.js';

const bytes = (...values: number[]) => Uint8Array.from(values);

function report(reporter: string, seq: number, extra: Partial<NewReport> = {}): NewReport {
  return {
    reporter,
    seq,
    time: 1_000 + seq,
    receivedAt: 2_000 + seq,
    bytes: bytes(seq, 1, 2),
    edges: [],
    sightings: [],
    ...extra,
  };
}

function sighting(cid: string, fromPeer: string, advertTime = 500): NewSighting {
  return { entryId: new Uint8Array(32).fill(cid.length), cid, fromPeer, advertTime, advert: bytes(9, 9) };
}

describe('ServerStore: a rating server on disk', () => {
  let dir: string;
  const stores: ServerStore[] = [];

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nrp-server-store-'));
  });

  afterEach(async () => {
    for (const store of stores.splice(0)) {
      try {
        store.close();
      } catch {
        // Closed by the test.
      }
    }
    await removeDir(dir);
  });

  function open(path = join(dir, 'server.db')) {
    const store = ServerStore.open(path);
    stores.push(store);
    return store;
  }

  it('stores a report with its edges, sightings and sequence number, and keeps them across a reopen', () => {
    const store = open();
    const id = store.addReport(
      report('R', 7, {
        edges: [
          { a: 'A', b: 'R', time: 100, attestation: bytes(1) },
          { a: 'R', b: 'Z', time: 100, attestation: bytes(2) },
        ],
        sightings: [sighting('bafy1', 'A')],
      }),
    );
    store.close();

    const reopened = open();
    expect(reopened.lastSeq('R')).to.equal(7);
    expect([...reopened.lastSeqs()]).to.deep.equal([['R', 7]]);
    expect(reopened.report('R', 7)).to.deep.equal({
      id,
      reporter: 'R',
      seq: 7,
      time: 1_007,
      receivedAt: 2_007,
      edges: 2,
      sightings: 1,
      bytes: bytes(7, 1, 2),
    });
    expect(reopened.listEdges().map((e) => [e.a, e.b, e.reportedBy])).to.deep.equal([
      ['A', 'R', 'R'],
      ['R', 'Z', 'R'],
    ]);
    expect(reopened.listEdges({ peer: 'Z' })).to.have.length(1);
    const [stored] = reopened.listSightings();
    expect(stored).to.include({ reportId: id, reporter: 'R', cid: 'bafy1', fromPeer: 'A', advertTime: 500 });
    expect(stored.advert).to.deep.equal(bytes(9, 9));
    expect(reopened.listSightings({ fromPeer: 'B' })).to.deep.equal([]);
    expect(reopened.stats()).to.deep.include({ reports: 1, reporters: 1, edges: 2, sightings: 1 });
  });

  it('refuses a sequence number not above the last, in a batch and alone, and stores the rest of the batch', () => {
    const store = open();
    store.addReport(report('R', 5));
    const results = store.addReports([report('R', 5), report('R', 6), report('S', 1), report('R', 6), report('R', 4)]);
    expect(results.map((r) => r.status)).to.deep.equal(['replayed', 'stored', 'stored', 'replayed', 'replayed']);
    expect(results[0]).to.deep.equal({ status: 'replayed', lastSeq: 5 });
    expect(results[4]).to.deep.equal({ status: 'replayed', lastSeq: 6 });
    expect(() => store.addReport(report('R', 6))).to.throw(ReplayedSequenceError);
    expect(store.lastSeq('R')).to.equal(6);
    expect(store.listReports().map((r) => `${r.reporter}${r.seq}`)).to.deep.equal(['R5', 'R6', 'S1']);
    expect(store.listReports({ reporter: 'S' })).to.have.length(1);
    expect(store.listReports({ limit: 1 })).to.have.length(1);
  });

  it('writes a batch all or nothing: a failing report leaves no trace of any, sequence numbers included', () => {
    const store = open();
    const broken = report('R', 2, {
      sightings: [{ ...sighting('bafy', 'A'), entryId: null as unknown as Uint8Array }],
    });
    expect(() =>
      store.addReports([report('Q', 1, { edges: [{ a: 'Q', b: 'R', time: 1, attestation: bytes(1) }] }), broken]),
    ).to.throw();
    expect(store.stats()).to.deep.include({ reports: 0, reporters: 0, edges: 0, sightings: 0 });
    expect(store.lastSeq('Q')).to.equal(undefined);
    // And the store still works.
    store.addReport(report('Q', 1));
    expect(store.lastSeq('Q')).to.equal(1);
  });

  it('keeps the newest attestation of each edge', () => {
    const store = open();
    store.addReport(report('A', 1, { edges: [{ a: 'A', b: 'B', time: 200, attestation: bytes(2) }] }));
    store.addReport(report('B', 1, { edges: [{ a: 'A', b: 'B', time: 100, attestation: bytes(1) }] }));
    expect(store.listEdges()).to.have.length(1);
    expect(store.listEdges()[0]).to.include({ time: 200, reportedBy: 'A' });
    store.addReport(report('B', 2, { edges: [{ a: 'A', b: 'B', time: 300, attestation: bytes(3) }] }));
    expect(store.listEdges()[0]).to.include({ time: 300, reportedBy: 'B' });
    expect(store.listEdges({ since: 301 })).to.deep.equal([]);
    expect(store.pruneEdges(301)).to.equal(1);
    expect(store.listEdges()).to.deep.equal([]);
  });

  it('records one sighting once per reporter, and prunes only reports without evidence', () => {
    const store = open();
    store.addReport(report('R', 1, { sightings: [sighting('bafy', 'A'), sighting('bafy', 'A')] }));
    store.addReport(report('R', 2, { sightings: [sighting('bafy', 'A')] }));
    store.addReport(report('S', 1, { sightings: [sighting('bafy', 'A')] }));
    store.addReport(report('S', 2));
    expect(store.listSightings().map((s) => s.reporter)).to.deep.equal(['R', 'S']);
    expect(store.listSightings({ reporter: 'S' })).to.have.length(1);
    // Reports R1 and S1 are evidence; R2 (its sighting was a duplicate) and S2 are not.
    expect(store.pruneReports(Number.MAX_SAFE_INTEGER)).to.equal(2);
    expect(store.listReports().map((r) => `${r.reporter}${r.seq}`)).to.deep.equal(['R1', 'S1']);
    // The sequence numbers outlive pruned reports.
    expect(store.lastSeq('S')).to.equal(2);
  });

  it('keeps tips pending until the operator accepts or rejects them, once', () => {
    const store = open();
    const tip = {
      sender: 'T',
      cid: 'bafytip',
      category: 'malware',
      reason: 'dropper',
      time: 10,
      bytes: bytes(1),
      receivedAt: 11,
    };
    const first = store.addTip(tip);
    expect(first.duplicate).to.equal(false);
    expect(store.addTip(tip)).to.deep.equal({ id: first.id, duplicate: true });
    const second = store.addTip({ ...tip, time: 12 });
    expect(store.listTips({ status: 'pending' }).map((t) => t.id)).to.deep.equal([first.id, second.id]);
    const decided = store.decideTip(first.id, 'accepted', 99);
    expect(decided).to.include({ id: first.id, status: 'accepted', decidedAt: 99, reason: 'dropper' });
    expect(() => store.decideTip(first.id, 'rejected')).to.throw(TipAlreadyDecidedError);
    expect(() => store.decideTip(12345, 'rejected')).to.throw(TipNotFoundError);
    expect(store.tip(second.id)).to.include({ status: 'pending' });
    expect(store.tip(second.id)).to.not.have.property('decidedAt');
    expect(store.listTips({ status: 'accepted' })).to.have.length(1);
    expect(store.stats().tips).to.deep.equal({ pending: 1, accepted: 1, rejected: 0 });
  });

  it('records issued verdict snapshots in sequence', () => {
    const store = open();
    expect(store.lastVerdictSeq()).to.equal(undefined);
    expect(store.verdictSnapshot()).to.equal(undefined);
    store.addVerdictSnapshot({ seq: 1, issuedAt: 100, bytes: bytes(1) });
    store.addVerdictSnapshot({ seq: 3, issuedAt: 300, bytes: bytes(3) });
    expect(() => store.addVerdictSnapshot({ seq: 3, issuedAt: 400, bytes: bytes(4) })).to.throw(VerdictSequenceError);
    expect(store.lastVerdictSeq()).to.equal(3);
    expect(store.verdictSnapshot()).to.deep.equal({ seq: 3, issuedAt: 300, bytes: bytes(3) });
    expect(store.verdictSnapshot(1)).to.deep.equal({ seq: 1, issuedAt: 100, bytes: bytes(1) });
    expect(store.stats().verdictSnapshots).to.equal(2);
  });

  it('remembers when each edge was first attested, across a reopen, even when an older attestation comes late', () => {
    const path = join(dir, 'server.db');
    let store = open(path);
    store.addReport(report('A', 1, { edges: [{ a: 'A', b: 'B', time: 200, attestation: bytes(2) }] }));
    store.addReport(report('A', 2, { edges: [{ a: 'A', b: 'B', time: 300, attestation: bytes(3) }] }));
    expect(store.listEdges()[0]).to.include({ firstTime: 200, time: 300, reportedBy: 'A' });
    // An older attestation only moves the first time back: the newest one stays the row's.
    store.addReport(report('B', 1, { edges: [{ a: 'A', b: 'B', time: 100, attestation: bytes(1) }] }));
    store.addReport(report('B', 2, { edges: [{ a: 'A', b: 'B', time: 250, attestation: bytes(9) }] }));
    expect(store.listEdges()[0]).to.deep.include({ firstTime: 100, time: 300, reportedBy: 'A', attestation: bytes(3) });
    store.close();
    store = open(path);
    expect(store.listEdges()[0]).to.include({ firstTime: 100, time: 300 });
  });

  it('lists reports newest first without their signed bytes, a page at a time, and finds a sighting by id', () => {
    const store = open();
    for (let seq = 1; seq <= 3; seq++) store.addReport(report('A', seq));
    const withSighting = store.addReport(report('B', 1, { sightings: [sighting('bafy-one', 'X', 700)] }));
    const first = store.recentReports({ limit: 2 });
    expect(first.map((r) => [r.reporter, r.seq])).to.deep.equal([
      ['B', 1],
      ['A', 3],
    ]);
    expect(first[0]).to.not.have.property('bytes');
    expect(first[0]).to.deep.equal({
      id: withSighting,
      reporter: 'B',
      seq: 1,
      time: 1_001,
      receivedAt: 2_001,
      edges: 0,
      sightings: 1,
    });
    const second = store.recentReports({ limit: 2, before: first[1].id });
    expect(second.map((r) => r.seq)).to.deep.equal([2, 1]);
    expect(store.recentReports({ before: second[1].id })).to.deep.equal([]);
    expect(store.recentReports({ reporter: 'A' })).to.have.length(3);
    expect(store.reportSummary(withSighting)).to.deep.equal(first[0]);
    expect(store.reportSummary(999)).to.equal(undefined);
    const [stored] = store.listSightings();
    expect(store.sighting(stored.id)).to.deep.equal(stored);
    expect(store.sighting(stored.id)).to.include({
      reportId: withSighting,
      fromPeer: 'X',
      cid: 'bafy-one',
      advertTime: 700,
    });
    expect(store.sighting(999)).to.equal(undefined);
  });

  it('prunes all but the newest verdict snapshots, never the last one', () => {
    const store = open();
    for (let seq = 1; seq <= 5; seq++) store.addVerdictSnapshot({ seq, issuedAt: seq * 100, bytes: bytes(seq) });
    expect(store.pruneVerdictSnapshots(3)).to.equal(2);
    expect(store.verdictSnapshot(2)).to.equal(undefined);
    expect(store.verdictSnapshot(3)).to.deep.include({ seq: 3 });
    expect(store.pruneVerdictSnapshots(0), 'at least one is kept').to.equal(2);
    expect(store.lastVerdictSeq()).to.equal(5);
    expect(store.stats().verdictSnapshots).to.equal(1);
    store.addVerdictSnapshot({ seq: 6, issuedAt: 600, bytes: bytes(6) });
    expect(store.pruneVerdictSnapshots(100)).to.equal(0);
  });
});
