/**
 * A client process of `bench:server`: it plays some of the simulated nodes, each a libp2p host of its own (the
 * server takes a report only from the peer that signed it), and sends their reports the way `Reporter` does:
 * one `/nrp/report/1.0.0` request each, over a stream kept open between them. The parent (scripts/bench-server.ts) drives it over IPC:
 *
 * - `connect`: start a host per node of the wave, dial the server, pre-sign every round's report;
 * - `send`: send rounds `from`..`to` of every node, each node's in order, `inFlight` nodes at a time;
 * - `echo`: rounds `from`..`to` on the bench's echo protocol, which answers without checking anything;
 * - `bytes`: hand the parent a round's reports, for the run without the network;
 * - `disconnect`, `exit`.
 */
import { noise } from '@libp2p/noise';
import { tcp } from '@libp2p/tcp';
import { yamux } from '@libp2p/yamux';
import { multiaddr } from '@multiformats/multiaddr';
import { createLibp2p, type Libp2p } from 'libp2p';
import { decodeReportAck, MAX_REPORT_ACK_BYTES, REPORT_PROTOCOL } from '../../src/node/reporter.js';
import { RequestChannel } from '../../src/node/rpc.js';
import { rejectionReasonOf } from '../../src/server/intake.js';
import { ServerWorkload, type WorkloadInit } from './server-workload.js';

/** The bench server's protocol that answers a request at once: the transport's own cost. */
export const ECHO_PROTOCOL = '/nrp/bench/echo/1.0.0';

export type ClientCommand =
  | { type: 'init'; workload: WorkloadInit; server: string; inFlight: number }
  | { type: 'connect'; nodes: number[]; rounds: number }
  | { type: 'send'; from: number; to: number }
  | { type: 'echo'; from: number; to: number }
  | { type: 'bytes'; round: number }
  | { type: 'disconnect' }
  | { type: 'exit' };

export type ClientReply =
  | { type: 'ready' }
  | { type: 'connected'; hosts: number; connectMs: number; signMs: number }
  | {
      type: 'sent';
      accepted: number;
      rejected: Record<string, number>;
      failed: number;
      firstError?: string;
      /** This process's CPU time for the phase. */
      cpuMs: number;
    }
  | { type: 'bytes'; reports: { peer: Uint8Array; bytes: Uint8Array }[] }
  | { type: 'disconnected' }
  | { type: 'error'; message: string };

interface SimulatedHost {
  index: number;
  libp2p: Libp2p;
  /** Its streams to the server, kept open between requests as `Reporter` keeps its report stream. */
  channels: Record<string, RequestChannel>;
  /** Pre-signed reports by round. */
  reports: Uint8Array[];
}

if (import.meta.main) {
  let workload: ServerWorkload | undefined;
  let server = '';
  let inFlight = 32;
  let hosts: SimulatedHost[] = [];
  const reply = (message: ClientReply) => process.send?.(message);

  process.on('message', (command: ClientCommand) => {
    handle(command).then(reply, (error: Error) => reply({ type: 'error', message: error.stack ?? error.message }));
  });
  // Orphaned (the bench ended or failed): stop, hosts and all.
  process.on('disconnect', () => process.exit(0));
  reply({ type: 'ready' });

  async function handle(command: ClientCommand): Promise<ClientReply> {
    switch (command.type) {
      case 'init':
        workload = new ServerWorkload(command.workload);
        server = command.server;
        inFlight = command.inFlight;
        return { type: 'ready' };
      case 'connect': {
        if (!workload) throw new Error('not initialised');
        const w = workload;
        const started = performance.now();
        const reports = new Map<number, Uint8Array[]>();
        for (const index of command.nodes) {
          const signed: Uint8Array[] = [];
          for (let round = 0; round < command.rounds; round++) signed.push(await w.report(index, round));
          reports.set(index, signed);
        }
        const signMs = performance.now() - started;
        const connecting = performance.now();
        hosts = await pool(command.nodes, 16, async (index) => {
          const libp2p = await createLibp2p({
            privateKey: w.node(index).key,
            transports: [tcp()],
            connectionEncrypters: [noise()],
            streamMuxers: [yamux()],
            // Real nodes ping their connections too; left out here to spare the CPU the server shares.
            connectionMonitor: { enabled: false },
          });
          const connection = await retry(() => libp2p.dial(multiaddr(server)));
          const channel = (protocol: string) =>
            new RequestChannel(libp2p, connection.remotePeer, protocol, { maxResponseBytes: MAX_REPORT_ACK_BYTES });
          const channels = { [REPORT_PROTOCOL]: channel(REPORT_PROTOCOL), [ECHO_PROTOCOL]: channel(ECHO_PROTOCOL) };
          return { index, libp2p, channels, reports: reports.get(index) as Uint8Array[] };
        });
        return { type: 'connected', hosts: hosts.length, connectMs: performance.now() - connecting, signMs };
      }
      case 'send': {
        const cpu = process.cpuUsage();
        const result = {
          accepted: 0,
          rejected: {} as Record<string, number>,
          failed: 0,
          firstError: undefined as string | undefined,
        };
        await pool(hosts, inFlight, async (host) => {
          for (let round = command.from; round <= command.to; round++) {
            try {
              const ack = decodeReportAck(await send(host, REPORT_PROTOCOL, host.reports[round]));
              if (ack.accepted) result.accepted++;
              else {
                const reason = rejectionReasonOf(ack) ?? 'other';
                result.rejected[reason] = (result.rejected[reason] ?? 0) + 1;
                result.firstError ??= ack.reason;
              }
            } catch (error) {
              result.failed++;
              result.firstError ??= (error as Error).message;
            }
          }
        });
        return { type: 'sent', ...result, cpuMs: cpuMs(cpu) };
      }
      case 'echo': {
        const cpu = process.cpuUsage();
        const result = { accepted: 0, rejected: {}, failed: 0, firstError: undefined as string | undefined };
        await pool(hosts, inFlight, async (host) => {
          for (let round = command.from; round <= command.to; round++) {
            try {
              await send(host, ECHO_PROTOCOL, host.reports[round]);
              result.accepted++;
            } catch (error) {
              result.failed++;
              result.firstError ??= (error as Error).message;
            }
          }
        });
        return { type: 'sent', ...result, cpuMs: cpuMs(cpu) };
      }
      case 'bytes':
        return {
          type: 'bytes',
          reports: hosts.map((host) => ({
            peer: workload?.node(host.index).id as Uint8Array,
            bytes: host.reports[command.round],
          })),
        };
      case 'disconnect':
        await pool(hosts, 64, async (host) => {
          await host.libp2p.stop();
        });
        hosts = [];
        return { type: 'disconnected' };
      case 'exit':
        process.exit(0);
    }
  }
}

function send(host: SimulatedHost, protocol: string, bytes: Uint8Array): Promise<Uint8Array> {
  // By peer id, as `Reporter` does: the connection made at `connect` serves, or libp2p dials again; and over
  // the stream the host's last request went over, as `Reporter` does.
  return (host.channels[protocol] as RequestChannel).request(bytes, { signal: AbortSignal.timeout(120_000) });
}

function cpuMs(since: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / 1000;
}

async function retry<T>(attempt: () => Promise<T>, tries = 5): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await attempt();
    } catch (error) {
      if (i >= tries) throw error;
      await new Promise((resolve) => setTimeout(resolve, 200 * i));
    }
  }
}

/** Runs `task` on every item, at most `limit` at once, and returns the results in order. */
async function pool<T, R>(items: readonly T[], limit: number, task: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await task(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
