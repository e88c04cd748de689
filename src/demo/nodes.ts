import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { loadOrCreatePrivateKey } from '../ipfs/keys.js';
import type { NodeConfig } from '../node/config.js';
import { type ControlEndpoint, callControl, controlFile } from '../node/control.js';
import type { NodeStatus, PeerExplanation } from '../node/runtime.js';
import { readJsonFile } from '../utils/json-file.js';
import type { ChildLine, DemoProcess, ProcessSupervisor } from './processes.js';
import { writeJsonConfig } from './servers.js';
import type { DemoNodePlan } from './topology.js';
import { waitUntil } from './wait.js';

/** How long a node may take to start (a cold start compiles the sources first). */
const START_TIMEOUT_MS = 90_000;

/** What a node did, as its own output says, with when the demo read it. */
export type NodeEvent =
  | { kind: 'received'; at: number; cid: string; from: string }
  | { kind: 'added'; at: number; cid: string }
  | { kind: 'refused'; at: number; cid: string; from: string }
  | { kind: 'list'; at: number; list: string; version: bigint; count: number };

/**
 * Reads one line of `nrp node start`'s output (src/cli/commands/node.ts): content fetched or added, a listed
 * advert refused, a list version taken up. Anything else is not an event.
 */
export function parseNodeLine(line: ChildLine): NodeEvent | undefined {
  const { at, text } = line;
  let match = /^content (\S+) from (\S+)$/.exec(text);
  if (match) return { kind: 'received', at, cid: match[1], from: match[2] };
  match = /^content (\S+) added here$/.exec(text);
  if (match) return { kind: 'added', at, cid: match[1] };
  match = /^REFUSED listed (\S+) offered by (\S+); evidence kept$/.exec(text);
  if (match) return { kind: 'refused', at, cid: match[1], from: match[2] };
  match = /^list (0x[0-9a-fA-F]{40}) at version (\d+) \((\d+) entries\)$/.exec(text);
  if (match)
    return { kind: 'list', at, list: match[1].toLowerCase(), version: BigInt(match[2]), count: Number(match[3]) };
  return undefined;
}

/** The parts of a node's configuration the demo varies; the rest is fixed in {@link DemoNode.start}. */
export interface DemoNodeSettings {
  bootstrap: string[];
  servers: NodeConfig['servers'];
  /** Without a deployment the node follows no registry and enforces no list: the distributor. */
  deployment?: string;
  /** Fetch and re-share what neighbours advertise (the distributor only pushes its own files). */
  autoFetch: boolean;
}

/**
 * A node the demo runs as `nrp node start --config <file>`, with its own data dir and a fixed port. Its key is
 * made before it starts, so its peer id (and so the topology's addresses) are known up front. Every line it
 * prints is kept as an event.
 */
export class DemoNode {
  readonly plan: DemoNodePlan;
  readonly dataDir: string;
  readonly configPath: string;
  readonly peerId: string;
  readonly port: number;
  readonly multiaddr: string;
  /** Everything it reported doing, over all its runs, oldest first. */
  readonly events: NodeEvent[] = [];
  process?: DemoProcess;
  /** How many times it was started. */
  starts = 0;

  private constructor(plan: DemoNodePlan, workDir: string, port: number, peerId: string) {
    this.plan = plan;
    this.dataDir = join(workDir, 'nodes', plan.name);
    this.configPath = join(workDir, 'configs', `${plan.name}.json`);
    this.port = port;
    this.peerId = peerId;
    this.multiaddr = `/ip4/127.0.0.1/tcp/${port}/p2p/${peerId}`;
  }

  /** Creates the node's key where `nrp node start` looks for it: `<dataDir>/ipfs/peer.key`. */
  static async create(plan: DemoNodePlan, workDir: string, port: number): Promise<DemoNode> {
    const key = await loadOrCreatePrivateKey(join(workDir, 'nodes', plan.name, 'ipfs', 'peer.key'));
    return new DemoNode(plan, workDir, port, peerIdFromPrivateKey(key).toString());
  }

  get name(): string {
    return this.plan.name;
  }

  /** Writes its configuration and starts it; resolves once its control API answers. */
  async start(
    supervisor: ProcessSupervisor,
    rpcUrl: string,
    settings: DemoNodeSettings,
    signal?: AbortSignal,
  ): Promise<void> {
    const config = {
      dataDir: this.dataDir,
      listen: [`/ip4/127.0.0.1/tcp/${this.port}`],
      bootstrap: settings.bootstrap,
      chain: settings.deployment ? { rpc: rpcUrl, deployment: settings.deployment } : { rpc: rpcUrl, chainId: 31337 },
      servers: settings.servers,
      intervals: { reportMs: 2_500, ratingsMs: 1_500, chainPollMs: 1_000 },
      penalties: { delayMs: DELAY_MS },
      fetch: { auto: settings.autoFetch },
    };
    await writeJsonConfig(this.configPath, config);
    const child = await supervisor.startNrp(this.name, ['node', 'start', '--config', this.configPath]);
    this.process = child;
    this.starts++;
    child.onLine((line) => {
      const event = parseNodeLine(line);
      if (event) this.events.push(event);
    });
    await waitUntil(
      `node ${this.name} to start`,
      async () => {
        const endpoint = await readJsonFile<ControlEndpoint>(controlFile(this.dataDir));
        if (endpoint?.pid !== child.pid) return false;
        await this.status();
        return true;
      },
      { timeoutMs: START_TIMEOUT_MS, signal, health: () => child.assertRunning() },
    );
  }

  /** Stops it (SIGTERM, as Ctrl-C would); its data dir stays for a restart. */
  async stop(): Promise<void> {
    await this.process?.stop();
  }

  async status(): Promise<NodeStatus> {
    return (await callControl(this.dataDir, 'GET', '/status')) as NodeStatus;
  }

  /** What it holds against `peer`, and why. */
  async why(peer: string): Promise<PeerExplanation> {
    return (await callControl(this.dataDir, 'GET', `/why/${encodeURIComponent(peer)}`)) as PeerExplanation;
  }

  /** Adds a file and advertises it, as `nrp node add` does. */
  async add(bytes: Uint8Array, name: string): Promise<{ cid: string; size: number }> {
    return (await callControl(this.dataDir, 'POST', `/content?name=${encodeURIComponent(name)}`, bytes)) as {
      cid: string;
      size: number;
    };
  }

  /**
   * The CIDs it holds now, read from its own record (`node.db`, read-only): content it fetched or added and has
   * not dropped since.
   */
  held(): Set<string> {
    const db = new DatabaseSync(join(this.dataDir, 'node.db'), { readOnly: true });
    try {
      db.exec('PRAGMA busy_timeout = 5000');
      return new Set(
        db
          .prepare('SELECT cid FROM content')
          .all()
          .map((row) => String(row.cid)),
      );
    } finally {
      db.close();
    }
  }

  /** The events of one kind, optionally only from `since` on. */
  eventsOf<K extends NodeEvent['kind']>(kind: K, since = 0): Extract<NodeEvent, { kind: K }>[] {
    return this.events.filter((e): e is Extract<NodeEvent, { kind: K }> => e.kind === kind && e.at >= since);
  }
}

/** How long nodes hold what a delayed peer sends them, and the blocks they serve it. */
export const DELAY_MS = 3_000;
