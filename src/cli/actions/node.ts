import { existsSync } from 'node:fs';
import { basename } from 'node:path';
import { loadNodeConfig, type NodeConfig, NodeConfigError, parseNodeConfig } from '../../node/config.js';
import { ControlApiError, callControl, NodeNotRunningError, readUpload } from '../../node/control.js';
import type { NodeStatus, PeerExplanation } from '../../node/runtime.js';
import { DEFAULT_CONFIG } from '../commands/node.js';
import type { CliContext } from '../context.js';
import { CliError } from '../errors.js';
import { noteListSync } from '../format.js';

async function config(path: string | undefined): Promise<NodeConfig> {
  try {
    if (path) return await loadNodeConfig(path);
    if (existsSync(DEFAULT_CONFIG)) return await loadNodeConfig(DEFAULT_CONFIG);
    return parseNodeConfig({});
  } catch (error) {
    if (error instanceof NodeConfigError) throw new CliError(error.message);
    throw error;
  }
}

async function control<T>(path: string | undefined, method: 'GET' | 'POST', route: string, body?: Uint8Array) {
  const { dataDir } = await config(path);
  try {
    return (await callControl(dataDir, method, route, body)) as T;
  } catch (error) {
    if (error instanceof NodeNotRunningError || error instanceof ControlApiError) throw new CliError(error.message);
    throw error;
  }
}

/**
 * Socket errors that some libp2p transports let escape as uncaught exceptions when a peer vanishes mid-dial
 * (see js-libp2p#2744). A long-running node logs them and goes on; anything else still stops it.
 */
const PEER_SOCKET_ERRORS = new Set(['ECONNRESET', 'EPIPE', 'ECONNREFUSED', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH']);

export async function start(ctx: CliContext, options: { config?: string }) {
  const settings = await config(options.config);
  // The node itself (libp2p, Helia, the chain clients) only for `start`: the other commands talk to it over HTTP.
  const { NodeStartError, startNode } = await import('../../node/runtime.js');
  process.on('uncaughtException', (error: NodeJS.ErrnoException) => {
    if (!PEER_SOCKET_ERRORS.has(error.code ?? '')) {
      ctx.output.note(`nrp node: fatal: ${error.stack ?? error.message}`);
      process.exit(1);
    }
    ctx.output.note(`a peer connection failed: ${error.message}`);
  });
  const stopped = new AbortController();
  const out = ctx.output;
  out.note(`starting the node on ${settings.dataDir}: syncing the lists in force from the chain…`);
  const running = await startNode(settings, {
    signal: stopped.signal,
    onList: (list) => noteListSync(out, list),
  }).catch((error) => {
    if (error instanceof NodeStartError) throw new CliError(error.message);
    throw new CliError(`Cannot start the node: ${(error as Error).message}`, 1, { cause: error });
  });
  running.node.adverts.addEventListener('content', ({ detail }) =>
    out.note(`content ${detail.cid}${detail.fromPeer ? ` from ${detail.fromPeer}` : ' added here'}`),
  );
  running.node.adverts.addEventListener('sighting', ({ detail }) =>
    out.note(`REFUSED listed ${detail.cid} offered by ${detail.fromPeer}; evidence kept`),
  );
  const current = await running.status();
  out.result({ ...current, dataDir: settings.dataDir, control: running.controlUrl }, () => {
    out.line(`Node ${current.peerId} running on ${settings.dataDir}`);
    for (const address of current.addresses) out.line(`  ${address}`);
    for (const list of current.lists) out.line(`  enforcing list ${list.list} at version ${list.version}`);
    out.line('Ctrl-C stops it; `nrp node status` shows what it is doing.');
  });
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  out.note('stopping…');
  stopped.abort();
  await running.stop();
}

export async function add(ctx: CliContext, file: string, options: { name?: string; config?: string }) {
  let bytes: Uint8Array;
  try {
    bytes = await readUpload(file);
  } catch (error) {
    throw new CliError((error as Error).message);
  }
  const name = encodeURIComponent(options.name ?? basename(file));
  const result = await control<{ cid: string; size: number }>(options.config, 'POST', `/content?name=${name}`, bytes);
  ctx.output.result(result, (r) => ctx.output.line(`Added ${file} as ${r.cid} (${r.size} bytes) and advertised it.`));
}

export async function status(ctx: CliContext, options: { config?: string }) {
  const s = await control<NodeStatus>(options.config, 'GET', '/status');
  ctx.output.result(s, () => {
    const out = ctx.output;
    out.line(`Node ${s.peerId}`);
    for (const address of s.addresses) out.line(`  ${address}`);
    out.line(`Peers (${s.peers.length}):`);
    for (const peer of s.peers) out.line(`  ${peer.peerId}  ${peer.address}`);
    out.line('Lists in force:');
    for (const list of s.lists) out.line(`  ${list.list}  version ${list.version}, ${list.count} entries`);
    out.line(`Content held: ${s.content}; evidence kept: ${s.evidence}`);
    out.line(`Penalised peers: ${s.penalties.length}`);
    for (const penalty of s.penalties) out.line(`  ${penalty.peer}: ${penalty.kind} (nrp node why ${penalty.peer})`);
    out.line(`Reports waiting: ${s.pendingReports.length}`);
    for (const report of s.pendingReports) {
      out.line(`  to ${report.server}: seq ${report.seq}, ${report.attempts} attempts`);
    }
  });
}

export async function why(ctx: CliContext, peer: string, options: { config?: string }) {
  const w = await control<PeerExplanation>(options.config, 'GET', `/why/${encodeURIComponent(peer)}`);
  ctx.output.result(w, () => {
    const out = ctx.output;
    out.line(`Peer ${w.peer} is ${w.connected ? 'connected' : 'not connected'}.`);
    if (w.penalty.kind === 'none')
      out.line('No penalty: no followed server holds a verdict against it that calls for one.');
    else
      out.line(
        `Penalty: ${w.penalty.kind}${w.penalty.until ? ` until ${new Date(w.penalty.until).toISOString()}` : ''}, because:`,
      );
    for (const reason of w.penalty.because) {
      out.line(
        `  ${reason.rating} from ${reason.priority}-priority server ${reason.server} (${reason.effect}): ${reason.reason}`,
      );
      for (const ref of reason.evidence) out.line(`    evidence: ${ref}`);
      out.line(`    expires ${new Date(reason.expiresAt).toISOString()}`);
    }
    if (w.evidence.length === 0) out.line('It has offered no listed content to this node.');
    for (const e of w.evidence) out.line(`  offered listed ${e.cid} at ${new Date(e.seenAt).toISOString()}`);
  });
}
