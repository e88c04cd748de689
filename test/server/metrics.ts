import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { createNrpHelia } from '../../src/ipfs/helia.js';
import { entryId, entryIdToHex } from '../../src/lists/entry-id.js';
import { peerIdToString } from '../../src/node/protocol/peer.js';
import { encodeReport, type Report } from '../../src/node/protocol/report.js';
import { decodeReportAck, REPORT_PROTOCOL, type ReportAck } from '../../src/node/reporter.js';
import { request } from '../../src/node/rpc.js';
import { listedIn, REJECTION_REASONS, ReportIntake } from '../../src/server/intake.js';
import { ServerMetrics } from '../../src/server/metrics.js';
import type { RatingServer } from '../../src/server/server.js';
import { ServerStore } from '../../src/server/store.js';
import { viemDaoFixture } from '../chain/helpers.js';
import { networkHelpers } from '../helpers/dao.js';
import { removeDir } from '../helpers/dirs.js';
import { startHost, type TestHost } from '../node/helpers/peers.js';
import { waitFor } from '../node/helpers/wait.js';
import { startTestServer } from './helpers/api-server.js';
import { publishListVersion } from './helpers/governance.js';
import { cidOf, listOf, rawReport, sightingOf, signedEdge, signedReport, testPeer } from './helpers/reports.js';

const LISTED = ['listed one', 'listed two', 'listed three'];

/** The value of one sample in Prometheus' text format, e.g. `value(text, 'x_total', { reason: 'stale' })`. */
function value(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const wanted = Object.entries(labels)
    .map(([key, label]) => `${key}="${label}"`)
    .join(',');
  const prefix = wanted ? `${name}{${wanted}} ` : `${name} `;
  const line = text.split('\n').find((l) => l.startsWith(prefix));
  return line === undefined ? undefined : Number(line.slice(prefix.length));
}

describe('ServerMetrics: Prometheus metrics of a rating server', function () {
  this.timeout(60_000);
  const cleanups: (() => Promise<unknown>)[] = [];
  let dir: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nrp-metrics-'));
  });

  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
    await removeDir(dir);
  });

  it('counts reports by outcome and reason, verdicts by rating and inference time, at GET /metrics', async () => {
    const dao = await networkHelpers.loadFixture(viemDaoFixture);
    const server: RatingServer = await startTestServer(dao, join(dir, 'server'), { inference: undefined });
    cleanups.push(() => server.stop());
    const holder = await createNrpHelia();
    cleanups.push(() => holder.stop());
    const ids = await Promise.all(LISTED.map(async (text) => entryId(await cidOf(text))));
    await publishListVersion(dao, holder.blockstore, {
      version: 1,
      ids,
      added: ids.length,
      removed: 0,
      metadata: new Map(ids.map((id) => [entryIdToHex(id), { category: 'test', reason: 'listed by a test' }])),
    });
    await server.helia.libp2p.dial(holder.libp2p.getMultiaddrs());
    await waitFor('the list at the server', async () => {
      await server.list.syncOnce();
      return server.list.current.version === 1n;
    });

    const node: TestHost = await startHost();
    cleanups.push(() => node.helia.stop());
    const reporter = await testPeer(node.key);
    const send = async (message: Report | Uint8Array): Promise<ReportAck> => {
      const bytes = message instanceof Uint8Array ? message : encodeReport(message);
      const response = await request(node.helia.libp2p, server.helia.libp2p.getMultiaddrs(), REPORT_PROTOCOL, bytes, {
        signal: AbortSignal.timeout(10_000),
      });
      return decodeReportAck(response);
    };

    // One good report: a neighbour that reports to nobody offered listed content.
    const distributor = await testPeer();
    const good = await signedReport(reporter, {
      seq: 1,
      edges: [await signedEdge(reporter, distributor)],
      sightings: [await sightingOf(distributor, LISTED[0])],
    });
    expect((await send(good)).accepted).to.equal(true);
    // And bad ones, each refused for its own reason.
    const forged = await signedReport(reporter, { seq: 2 });
    forged.signature = Uint8Array.from(forged.signature);
    forged.signature[10] ^= 1;
    const stranger = await testPeer();
    const refusals: [Report | Uint8Array, string][] = [
      [forged, 'bad-signature'],
      [good, 'replayed'],
      [
        await signedReport(reporter, { seq: 3, sightings: [await sightingOf(distributor, 'not listed')] }),
        'unlisted-entry',
      ],
      [await rawReport(stranger, { seq: 1 }), 'wrong-sender'],
      [new Uint8Array([0xa1, 0x61]), 'malformed'],
      [await signedReport(reporter, { seq: 4, time: Date.now() - 3_600_000 }), 'stale'],
    ];
    for (const [message, reason] of refusals) {
      const ack = await send(message);
      expect(ack.accepted, reason).to.equal(false);
      expect(ack.reason?.split(':')[0]).to.equal(reason);
    }

    const scrape = async () => {
      const response = await fetch(`${server.httpUrl}/metrics`);
      expect(response.status).to.equal(200);
      expect(response.headers.get('content-type')).to.match(/^text\/plain; version=0\.0\.4/);
      return response.text();
    };
    const before = await scrape();
    const passes = value(before, 'nrp_server_inference_duration_seconds_count') ?? 0;
    expect(value(before, 'nrp_server_verdicts', { rating: 'black' })).to.equal(0);
    const outcome = await server.infer();
    expect(outcome.verdicts.map((verdict) => verdict.rating)).to.deep.equal(['black']);

    const text = await scrape();
    expect(value(text, 'nrp_server_reports_accepted_total')).to.equal(1);
    for (const reason of REJECTION_REASONS) {
      const expected = refusals.some(([, r]) => r === reason) ? 1 : 0;
      expect(value(text, 'nrp_server_reports_rejected_total', { reason }), reason).to.equal(expected);
    }
    expect(value(text, 'nrp_server_report_edges_total')).to.equal(1);
    expect(value(text, 'nrp_server_report_sightings_total')).to.equal(1);
    expect(value(text, 'nrp_server_report_processing_seconds_count')).to.equal(1);
    expect(value(text, 'nrp_server_verdicts', { rating: 'black' })).to.equal(1);
    expect(value(text, 'nrp_server_verdicts', { rating: 'white' })).to.equal(0);
    expect(value(text, 'nrp_server_verdicts', { rating: 'gray' })).to.equal(0);
    expect(value(text, 'nrp_server_inference_duration_seconds_count')).to.equal(passes + 1);
    const sum = value(text, 'nrp_server_inference_duration_seconds_sum') as number;
    expect(sum).to.be.at.least(outcome.durationMs / 1000);
    expect(value(text, 'nrp_server_inference_duration_seconds_bucket', { le: '+Inf' })).to.equal(passes + 1);
    expect(value(text, 'nrp_server_inference_sightings', { state: 'counted' })).to.equal(1);
    expect(value(text, 'nrp_server_snapshot_seq')).to.equal(outcome.snapshot.seq);
    expect(value(text, 'nrp_server_snapshots_issued_total')).to.be.at.least(1);
    expect(value(text, 'nrp_server_stored_rows', { table: 'reports' })).to.equal(1);
    expect(value(text, 'nrp_server_stored_rows', { table: 'edges' })).to.equal(1);
    expect(value(text, 'nrp_server_stored_rows', { table: 'sightings' })).to.equal(1);
    expect(value(text, 'nrp_server_tips', { status: 'pending' })).to.equal(0);
    expect(value(text, 'nrp_server_list_version')).to.equal(1);
    expect(value(text, 'nrp_server_list_entries')).to.equal(LISTED.length);
    expect(value(text, 'nrp_server_connections')).to.be.at.least(2);
    expect(value(text, 'nrp_server_verifier_verifications_total')).to.be.at.least(2);
    expect(value(text, 'process_cpu_user_seconds_total')).to.be.greaterThan(0);
    expect(text).to.include(`# HELP nrp_server_reports_rejected_total`);
    expect(peerIdToString(distributor.id)).to.equal(outcome.verdicts[0].peer);
  });

  it('keeps each server’s metrics in its own registry, and stops counting when stopped', async () => {
    const isListed = listedIn(await listOf(LISTED));
    const setups = [0, 1].map(() => {
      const store = ServerStore.open(':memory:');
      const intake = new ReportIntake({ libp2p: {} as never, store, isListed }, { rateLimit: false });
      cleanups.push(async () => store.close());
      return { intake, metrics: new ServerMetrics({ intake, store }, { processMetrics: false }) };
    });
    const [one, two] = setups;
    const reporter = await testPeer();
    const report = encodeReport(await signedReport(reporter, { seq: 1 }));
    expect((await one.intake.receive(report, reporter.id)).accepted).to.equal(true);
    expect((await one.intake.receive(report, reporter.id)).accepted).to.equal(false);

    const first = await one.metrics.text();
    expect(value(first, 'nrp_server_reports_accepted_total')).to.equal(1);
    expect(value(first, 'nrp_server_reports_rejected_total', { reason: 'replayed' })).to.equal(1);
    expect(value(first, 'nrp_server_stored_rows', { table: 'reports' })).to.equal(1);
    expect(value(first, 'process_cpu_user_seconds_total')).to.equal(undefined);
    const second = await two.metrics.text();
    expect(value(second, 'nrp_server_reports_accepted_total')).to.equal(0);
    expect(value(second, 'nrp_server_stored_rows', { table: 'reports' })).to.equal(0);

    one.metrics.stop();
    const other = await testPeer();
    expect((await one.intake.receive(encodeReport(await signedReport(other, { seq: 1 })), other.id)).accepted).to.equal(
      true,
    );
    const after = await one.metrics.text();
    expect(value(after, 'nrp_server_reports_accepted_total')).to.equal(1);
    expect(value(after, 'nrp_server_stored_rows', { table: 'reports' })).to.equal(2);
  });
});
