/**
 * bench:server — the rating server's report intake over real libp2p on loopback, and its inference.
 *
 *   npm run bench:server -- --nodes 10000 --rounds 2 --clients 2 --wave 1000
 *
 * Intake: `--nodes` simulated nodes (scripts/bench/server-workload.ts), each with its own key and libp2p
 * host in one of `--clients` client processes, each report with 8 edge attestations and on average one
 * sighting, to a server in this process: a libp2p host like the rating server's, the real `ReportIntake`
 * (default settings: rate limit, verified-edge cache, group commit) writing to a real SQLite store in a temp
 * folder, and `ServerMetrics` counting. Every report is signed before the timed phases; the server
 * acknowledges a report only once it is stored and on disk. The nodes connect in waves of `--wave`: libp2p
 * 3's connection manager rebuilds its list of connections, in time quadratic in their number, for every new
 * one, so 10,000 at once would take longer to open than the whole bench. Each wave is timed in phases:
 *
 * 1. first reports: every node's first report, whose edges the server has not verified before (each edge
 *    appears in both of its ends' reports, so half of them come already verified);
 * 2. echo (baseline): the refreshes' requests on a protocol that answers at once, over streams opened before
 *    (as the report streams were by the first reports): what libp2p itself costs;
 * 3. refreshes (the headline): `--rounds` more reports per node with the same edge attestations, as between
 *    two re-attestations, and new adverts;
 * 4. without the network: one more round fed to `intake.receive` in this process: the intake's own limit.
 *
 * Then inference: `inferVerdicts` over a synthetic map of `--infer-nodes` peers and `--infer-sightings`
 * sightings. The second baseline is Ed25519 verifications per second on one core, measured between waves.
 * Progress goes to stderr; the last line of stdout is one JSON object.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { generateKeyPairSync, sign, verify } from 'node:crypto';
import { rmSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createNrpHelia } from '../src/ipfs/helia.js';
import { MembershipIndex } from '../src/lists/membership-index.js';
import { encodeReportAck } from '../src/node/reporter.js';
import { handleRequests } from '../src/node/rpc.js';
import { DEFAULT_SERVER_MAX_CONNECTIONS, DEFAULT_SERVER_PING_INTERVAL_MS } from '../src/server/config.js';
import { inferVerdicts, type SightingRecord } from '../src/server/inference.js';
import { listedIn, ReportIntake } from '../src/server/intake.js';
import { ServerMetrics } from '../src/server/metrics.js';
import { ServerStore } from '../src/server/store.js';
import { TopologyMap } from '../src/server/topology.js';
import { type ClientCommand, type ClientReply, ECHO_PROTOCOL } from './bench/server-client.js';
import { ServerWorkload, type WorkloadInit } from './bench/server-workload.js';

const TARGETS = { reportsPerSec: 5_000, inferenceSeconds100k: 2 };
const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '10000' },
    rounds: { type: 'string', default: '2' },
    clients: { type: 'string', default: '2' },
    wave: { type: 'string', default: '1000' },
    'in-flight': { type: 'string', default: '32' },
    seed: { type: 'string', default: '1' },
    'infer-nodes': { type: 'string', default: '100000' },
    'infer-sightings': { type: 'string', default: '1000' },
    /** The server's libp2p connection monitor: ms between pings of every connection (the server's default), 0 off. */
    'ping-interval': { type: 'string', default: String(DEFAULT_SERVER_PING_INTERVAL_MS) },
    /** Writes a CPU profile of this process (the server) during the first wave's `--profile-phase` to this file. */
    profile: { type: 'string' },
    /** `refresh` (default), `echo`, or `direct` (the intake fed in-process). */
    'profile-phase': { type: 'string', default: 'refresh' },
  },
});
const NODES = Number(values.nodes);
const ROUNDS = Number(values.rounds);
const CLIENTS = Number(values.clients);
const WAVE = Number(values.wave);
const DEGREE = 8;
/** The server's data folder, removed at the end (or on failure). */
let dir = '';

/** One timed phase, summed over waves. */
class Phase {
  reports = 0;
  ms = 0;
  serverCpuMs = 0;
  eventLoopCpuMs = 0;
  clientCpuMs = 0;

  /** Times `run`, which returns how many reports it got through and the clients' CPU time. */
  async time(run: () => Promise<{ reports: number; clientCpuMs: number }>) {
    const [start, cpu, thread] = [performance.now(), process.cpuUsage(), process.threadCpuUsage()];
    const { reports, clientCpuMs } = await run();
    this.reports += reports;
    this.clientCpuMs += clientCpuMs;
    this.ms += performance.now() - start;
    const [used, threadUsed] = [process.cpuUsage(cpu), process.threadCpuUsage(thread)];
    this.serverCpuMs += (used.user + used.system) / 1000;
    this.eventLoopCpuMs += (threadUsed.user + threadUsed.system) / 1000;
  }

  /** Cores kept busy: server and clients' CPU time over the phase's time. */
  get cores() {
    return (this.serverCpuMs + this.clientCpuMs) / this.ms;
  }

  get perSec() {
    return this.reports / (this.ms / 1000);
  }

  get serverCpuMsPerReport() {
    return this.serverCpuMs / this.reports;
  }

  /** The server's event-loop thread alone: libuv's pool (signature checks, fsync) runs beside it. */
  get eventLoopCpuMsPerReport() {
    return this.eventLoopCpuMs / this.reports;
  }
}

class Client {
  readonly #child: ChildProcess;
  readonly #waiting: ((reply: ClientReply) => void)[] = [];
  readonly #early: ClientReply[] = [];

  constructor() {
    this.#child = fork(join(import.meta.dirname, 'bench', 'server-client.ts'), [], {
      execArgv: ['--import', 'tsx'],
      serialization: 'advanced',
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    this.#child.on('message', (reply: ClientReply) => {
      const waiting = this.#waiting.shift();
      if (waiting) waiting(reply);
      else this.#early.push(reply);
    });
    this.#child.on('exit', (code) => {
      if (code !== 0) fail(`a client process exited with code ${code}`);
    });
  }

  /** Waits for the next reply, without sending anything. */
  next(): Promise<ClientReply> {
    const early = this.#early.shift();
    if (early) return Promise.resolve(early);
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  async ask<T extends ClientReply['type']>(command: ClientCommand, expect: T): Promise<ClientReply & { type: T }> {
    const reply = this.next();
    this.#child.send(command);
    const answer = await reply;
    if (answer.type === 'error') fail(`a client failed: ${answer.message}`);
    if (answer.type !== expect) fail(`a client answered ${answer.type} to ${command.type}`);
    return answer as ClientReply & { type: T };
  }

  stop() {
    this.#child.send({ type: 'exit' } satisfies ClientCommand);
  }
}

function fail(message: string): never {
  console.error(`bench:server failed: ${message}`);
  if (dir) rmSync(dir, { recursive: true, force: true });
  process.exit(1);
}

/** Sums the clients' `sent` replies; fails on any refusal or error. */
function accepted(replies: (ClientReply & { type: 'sent' })[], what: string) {
  let reports = 0;
  let clientCpuMs = 0;
  for (const reply of replies) {
    const refused = Object.entries(reply.rejected);
    if (refused.length > 0 || reply.failed > 0) {
      fail(`${what}: refused ${JSON.stringify(reply.rejected)}, failed ${reply.failed}: ${reply.firstError}`);
    }
    reports += reply.accepted;
    clientCpuMs += reply.cpuMs;
  }
  return { reports, clientCpuMs };
}

/** Ed25519 verifications per second on this thread, with a key object made once (as the intake caches them). */
function verificationsPerSec(ms = 300): number {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const data = Buffer.alloc(300, 7);
  const signature = sign(null, data, privateKey);
  let count = 0;
  const start = performance.now();
  while (performance.now() - start < ms) {
    for (let i = 0; i < 50; i++) verify(null, data, publicKey, signature);
    count += 50;
  }
  return count / ((performance.now() - start) / 1000);
}

/** Runs `phase`, under the V8 profiler if `--profile` asks for it and this is the first wave. */
async function profiled(name: string, wave: number, phase: () => Promise<void>): Promise<void> {
  if (!values.profile || values['profile-phase'] !== name || wave !== 0) return phase();
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  await phase();
  const { profile } = await session.post('Profiler.stop');
  await writeFile(values.profile, JSON.stringify(profile));
  session.disconnect();
  console.error(`  CPU profile of the server during the first wave's ${name} phase in ${values.profile}`);
}

function median(samples: number[]): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/**
 * Seconds `inferVerdicts` takes on a map of `nodes` peers (a ring where each is connected to its 4 nearest on
 * either side, 90% of them reporting) and `sightings` sightings: chains of 10 hops, each from a random peer
 * along the ring, so every chain is traced back through reporting relays to an origin.
 */
function inferenceSeconds(nodes: number, sightings: number): { seconds: number; verdicts: number } {
  const now = Date.now();
  const map = new TopologyMap();
  const peer = (i: number) => `peer-${(i + nodes) % nodes}`;
  for (let i = 0; i < nodes; i++) {
    for (let d = 1; d <= DEGREE / 2; d++) map.addEdge(peer(i), peer(i + d), now - 30 * 60_000);
    if (i % 10 !== 0) map.addReport(peer(i), now - 60_000);
  }
  const records: SightingRecord[] = [];
  let state = 12_345;
  const random = () => {
    state = (Math.imul(state, 1_103_515_245) + 12_345) >>> 0;
    return state;
  };
  for (let chain = 0; records.length < sightings; chain++) {
    let at = random() % nodes;
    const start = now - 20 * 60_000 + (random() % 60_000);
    for (let hop = 0; hop < 10 && records.length < sightings; hop++) {
      const next = at + 1 + (random() % (DEGREE / 2));
      records.push({
        id: `s${records.length}`,
        reporter: peer(next),
        fromPeer: peer(at),
        entryId: `entry-${chain % 100}`,
        advertTime: start + hop * 5_000,
        reportedAt: start + hop * 5_000 + 30_000,
        effectiveAt: now - 60 * 60_000,
      });
      at = next;
    }
  }
  const runs: number[] = [];
  let verdicts = 0;
  for (let run = 0; run < 3; run++) {
    const start = performance.now();
    verdicts = inferVerdicts(map, records, { now }).verdicts.length;
    runs.push((performance.now() - start) / 1000);
  }
  return { seconds: median(runs), verdicts };
}

// ─── Run ─────────────────────────────────────────────────────────────────────────────────────────────────────

dir = await mkdtemp(join(tmpdir(), 'nrp-bench-server-'));
const now = Date.now();
const workload: WorkloadInit = {
  nodes: NODES,
  degree: DEGREE,
  seed: String(values.seed),
  edgeTime: now - 10 * 60_000,
  advertTime: now - 5 * 60_000,
};
const ids = new ServerWorkload(workload).listedIds();
const packed = new Uint8Array(ids.length * 32);
ids.forEach((id, i) => {
  packed.set(id, i * 32);
});

console.error(`Server: a libp2p host, ReportIntake and SQLite in ${dir}`);
const pingInterval = Number(values['ping-interval']);
const helia = await createNrpHelia({
  libp2p: {
    connectionMonitor: pingInterval > 0 ? { pingInterval } : { enabled: false },
    connectionManager: {
      maxConnections: Math.max(DEFAULT_SERVER_MAX_CONNECTIONS, WAVE + 256),
      inboundConnectionThreshold: 1_000_000,
      maxIncomingPendingConnections: 256,
    },
  },
});
const store = ServerStore.open(join(dir, 'server.db'));
const intake = new ReportIntake({
  libp2p: helia.libp2p,
  store,
  isListed: listedIn(MembershipIndex.fromSortedIds(packed)),
});
const metrics = new ServerMetrics({ intake, store });
await intake.start();
await handleRequests(helia.libp2p, ECHO_PROTOCOL, async () => encodeReportAck({ seq: 0, accepted: true }), {
  keepOpen: true,
});
const server = helia.libp2p.getMultiaddrs()[0].toString();

console.error(`${CLIENTS} client processes, ${NODES.toLocaleString('en')} nodes in waves of ${WAVE}…`);
const clients = Array.from({ length: CLIENTS }, () => new Client());
await Promise.all(clients.map((client) => client.next()));
await Promise.all(
  clients.map((client) =>
    client.ask({ type: 'init', workload, server, inFlight: Number(values['in-flight']) }, 'ready'),
  ),
);

const phases = { first: new Phase(), echo: new Phase(), refresh: new Phase(), direct: new Phase() };
const verifications: number[] = [];
let setupMs = 0;
for (let start = 0; start < NODES; start += WAVE) {
  const wave = Array.from({ length: Math.min(WAVE, NODES - start) }, (_, i) => start + i);
  const setup = performance.now();
  const connected = await Promise.all(
    clients.map((client, k) =>
      client.ask({ type: 'connect', nodes: wave.filter((i) => i % CLIENTS === k), rounds: ROUNDS + 2 }, 'connected'),
    ),
  );
  setupMs += performance.now() - setup;
  const hosts = connected.reduce((sum, reply) => sum + reply.hosts, 0);
  const all = (command: ClientCommand) => Promise.all(clients.map((client) => client.ask(command, 'sent')));

  await phases.first.time(async () => accepted(await all({ type: 'send', from: 0, to: 0 }), 'first reports'));
  // The echo streams opened untimed, as the report streams were by the first reports: the echo phase then
  // times the same exchanges as the refreshes, on streams already open.
  accepted(await all({ type: 'echo', from: 0, to: 0 }), 'opening echo streams');
  await profiled('echo', start, () =>
    phases.echo.time(async () => accepted(await all({ type: 'echo', from: 1, to: ROUNDS }), 'echo')),
  );
  await profiled('refresh', start, () =>
    phases.refresh.time(async () => accepted(await all({ type: 'send', from: 1, to: ROUNDS }), 'refresh reports')),
  );
  const direct = (
    await Promise.all(clients.map((client) => client.ask({ type: 'bytes', round: ROUNDS + 1 }, 'bytes')))
  ).flatMap((reply) => reply.reports);
  await profiled('direct', start, () =>
    phases.direct.time(async () => {
      const acks = await Promise.all(direct.map(({ peer, bytes }) => intake.receive(bytes, peer)));
      const refused = acks.find((ack) => !ack.accepted);
      if (refused) fail(`a report fed in-process was refused: ${refused.reason}`);
      return { reports: acks.length, clientCpuMs: 0 };
    }),
  );

  const teardown = performance.now();
  await Promise.all(clients.map((client) => client.ask({ type: 'disconnect' }, 'disconnected')));
  verifications.push(verificationsPerSec());
  setupMs += performance.now() - teardown;
  console.error(
    `  nodes ${start}–${start + wave.length - 1}: ${hosts} hosts connected in ` +
      `${(Math.max(...connected.map((c) => c.connectMs)) / 1000).toFixed(1)} s; refreshes so far ` +
      `${phases.refresh.perSec.toFixed(0)}/s (${phases.refresh.cores.toFixed(2)} cores busy), ` +
      `echo ${phases.echo.perSec.toFixed(0)}/s, ` +
      `without the network ${phases.direct.perSec.toFixed(0)}/s`,
  );
}
for (const client of clients) client.stop();

// Everything acknowledged is stored, and the metrics counted it.
const stats = store.stats();
const expectedReports = NODES * (ROUNDS + 2);
if (stats.reports !== expectedReports || stats.reporters !== NODES || stats.edges !== (NODES * DEGREE) / 2) {
  fail(`the store holds ${JSON.stringify(stats)}, not ${expectedReports} reports of ${NODES} reporters`);
}
const scraped = /^nrp_server_reports_accepted_total (\d+)$/m.exec(await metrics.text())?.[1];
if (Number(scraped) !== expectedReports)
  fail(`the metrics counted ${scraped} accepted reports, not ${expectedReports}`);
await intake.stop();
await helia.stop();
store.close();
await rm(dir, { recursive: true, force: true });

console.error(
  `Inference: ${Number(values['infer-nodes']).toLocaleString('en')} peers, ${values['infer-sightings']} sightings…`,
);
const inference = inferenceSeconds(Number(values['infer-nodes']), Number(values['infer-sightings']));
const rssMB = process.resourceUsage().maxRSS / 1024;

const verificationsPerSecOneCore = median(verifications);
const result = {
  reportsPerSec: Math.round(phases.refresh.perSec),
  firstReportsPerSec: Math.round(phases.first.perSec),
  withoutNetworkReportsPerSec: Math.round(phases.direct.perSec),
  echoPerSec: Math.round(phases.echo.perSec),
  reportsToEchoRatio: Number((phases.refresh.perSec / phases.echo.perSec).toFixed(3)),
  verificationsPerSecOneCore: Math.round(verificationsPerSecOneCore),
  reportsPerVerificationCore: Number((phases.refresh.perSec / verificationsPerSecOneCore).toFixed(3)),
  serverCpuMsPerReport: Number(phases.refresh.serverCpuMsPerReport.toFixed(3)),
  // What one core of server CPU sustains with the clients on other cores: the figure a deployment scales by.
  reportsPerServerCoreSec: Math.round(1000 / phases.refresh.serverCpuMsPerReport),
  // One thread runs libp2p and the intake: what it can take at most, however many cores the server has.
  eventLoopCpuMsPerReport: Number(phases.refresh.eventLoopCpuMsPerReport.toFixed(3)),
  reportsPerEventLoopSec: Math.round(1000 / phases.refresh.eventLoopCpuMsPerReport),
  clientCpuMsPerReport: Number((phases.refresh.clientCpuMs / phases.refresh.reports).toFixed(3)),
  coresBusy: Number(phases.refresh.cores.toFixed(2)),
  serverCpuMsPerEcho: Number(phases.echo.serverCpuMsPerReport.toFixed(3)),
  withoutNetworkCpuMsPerReport: Number(phases.direct.serverCpuMsPerReport.toFixed(3)),
  inferenceSeconds100k: Number(inference.seconds.toFixed(3)),
  rssMB: Math.round(rssMB),
  nodes: NODES,
  reports: expectedReports,
  setupSeconds: Math.round(setupMs / 1000),
  targets: TARGETS,
};
console.error(`\nReport intake: ${NODES} nodes, ${expectedReports} reports over libp2p on loopback`);
const row = (phase: Phase) => ({
  'reports/s': Math.round(phase.perSec),
  'server CPU ms/report': Number(phase.serverCpuMsPerReport.toFixed(3)),
  'client CPU ms/report': Number((phase.clientCpuMs / phase.reports).toFixed(3)),
  'cores busy': Number(phase.cores.toFixed(2)),
});
console.table({
  'refreshes (warm edge cache)': row(phases.refresh),
  'first reports': row(phases.first),
  'echo (libp2p only)': row(phases.echo),
  'intake without network': row(phases.direct),
});
console.error(
  `Baseline: ${result.verificationsPerSecOneCore} Ed25519 verifications/s on one core; ` +
    `refreshes/echo ${result.reportsToEchoRatio}`,
);
console.error(
  `Server CPU: ${result.serverCpuMsPerReport} ms a report, ${result.reportsPerServerCoreSec} reports/s per server core; ` +
    `its event loop ${result.eventLoopCpuMsPerReport} ms a report, at most ${result.reportsPerEventLoopSec} reports/s`,
);
console.error(
  `Inference: ${inference.seconds.toFixed(3)} s for ${inference.verdicts} verdicts; peak RSS ${result.rssMB} MB`,
);
console.error(
  `Targets: ≥ ${TARGETS.reportsPerSec} reports/s (${result.reportsPerSec >= TARGETS.reportsPerSec ? 'met' : 'not met'}), ` +
    `≤ ${TARGETS.inferenceSeconds100k} s inference (${inference.seconds <= TARGETS.inferenceSeconds100k ? 'met' : 'not met'})`,
);
console.log(JSON.stringify(result));
if (result.reportsPerSec < TARGETS.reportsPerSec || inference.seconds > TARGETS.inferenceSeconds100k) {
  process.exitCode = 1;
}
process.exit();
