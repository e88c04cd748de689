import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id';
import type { Address } from 'viem';
import { registerServer } from '../chain/registry.js';
import { loadOrCreatePrivateKey } from '../ipfs/keys.js';
import type { ServerConfig } from '../server/config.js';
import type { ServerEndpoint } from '../server/endpoint.js';
import type { RatingServerStatus, VerdictsView } from '../server/server.js';
import { readJsonFile } from '../utils/json-file.js';
import type { DemoChain } from './chain.js';
import type { DemoProcess, ProcessSupervisor } from './processes.js';
import { waitUntil } from './wait.js';

/** How long a rating server may take to start (a cold start compiles the sources first). */
const START_TIMEOUT_MS = 90_000;

export interface DemoServerInit {
  /** `s1`, `s2`, `fork`: the name in the timeline, the table and the log file. */
  name: string;
  /** What the timeline calls it, e.g. "server 1". */
  label: string;
  workDir: string;
  port: number;
  httpPort: number;
  /** The list it enforces: the DAO's by default (from the deployment record). */
  list?: Address;
  /** Milliseconds between inference passes. */
  inferenceIntervalMs: number;
  /** Its rating policy in numbers: the `inference` section of its configuration (defaults where left out). */
  inference?: Partial<ServerConfig['inference']>;
  /** Where it fetches list payloads from at first: the proposers' IPFS node. */
  bootstrap: string[];
}

/**
 * A rating server the demo runs as `nrp server start --config <file>`, with its own data dir and fixed ports.
 * Its key is made before it starts, so its peer id can be registered first.
 */
export class DemoServer {
  readonly name: string;
  readonly label: string;
  readonly dataDir: string;
  readonly configPath: string;
  readonly peerId: string;
  /** Where nodes reach it: what is registered on chain. */
  readonly multiaddr: string;
  readonly #init: DemoServerInit;
  /** The list it enforces: the DAO's when undefined. Set before start for a server of a list made later. */
  list?: Address;
  process?: DemoProcess;
  /** Its id in the on-chain registry, once registered. */
  serverId?: bigint;
  #endpoint?: ServerEndpoint;

  private constructor(init: DemoServerInit, peerId: string) {
    this.#init = init;
    this.name = init.name;
    this.label = init.label;
    this.dataDir = join(init.workDir, 'servers', init.name);
    this.configPath = join(init.workDir, 'configs', `${init.name}.json`);
    this.peerId = peerId;
    this.multiaddr = `/ip4/127.0.0.1/tcp/${init.port}/p2p/${peerId}`;
    this.list = init.list;
  }

  /** Creates the server's key in its data dir (`ipfs/peer.key`, as `nrp server start` reads it). */
  static async create(init: DemoServerInit): Promise<DemoServer> {
    const key = await loadOrCreatePrivateKey(join(init.workDir, 'servers', init.name, 'ipfs', 'peer.key'));
    return new DemoServer(init, peerIdFromPrivateKey(key).toString());
  }

  /** The dashboard and API, once started. */
  get httpUrl(): string {
    return this.#endpoint?.url ?? `http://127.0.0.1:${this.#init.httpPort}`;
  }

  /** Writes its configuration and starts it; resolves once its HTTP API answers. */
  async start(supervisor: ProcessSupervisor, chain: DemoChain, signal?: AbortSignal): Promise<void> {
    const config = {
      dataDir: this.dataDir,
      listen: [`/ip4/127.0.0.1/tcp/${this.#init.port}`],
      bootstrap: this.#init.bootstrap,
      chain: {
        rpc: chain.rpcUrl,
        deployment: chain.deploymentPath,
        ...(this.list && { list: this.list }),
      },
      httpPort: this.#init.httpPort,
      inferenceIntervalMs: this.#init.inferenceIntervalMs,
      ...(this.#init.inference && { inference: this.#init.inference }),
    };
    await writeJsonConfig(this.configPath, config);
    const child = await supervisor.startNrp(this.name, ['server', 'start', '--config', this.configPath]);
    this.process = child;
    await waitUntil(
      `${this.label} to start`,
      async () => {
        const endpoint = await readJsonFile<ServerEndpoint>(join(this.dataDir, 'server.json'));
        if (endpoint?.pid !== child.pid) return false;
        this.#endpoint = endpoint;
        await this.status();
        return true;
      },
      { timeoutMs: START_TIMEOUT_MS, signal, health: () => child.assertRunning() },
    );
  }

  /** Applies to the registry with the operator's account, naming its policy document. */
  async register(chain: DemoChain, operator: number, policyCid: string): Promise<bigint> {
    const { serverId } = await registerServer(chain.wallet(operator), {
      registry: chain.deployment.contracts.RatingServerRegistry,
      peerId: peerIdFromString(this.peerId).toMultihash().bytes,
      multiaddrs: [this.multiaddr],
      policyCid,
      list: this.list ?? chain.deployment.contracts.IllegalDataList,
    });
    this.serverId = serverId;
    return serverId;
  }

  async status(): Promise<RatingServerStatus> {
    return this.#get<RatingServerStatus>('/status');
  }

  /** The verdict snapshot it serves now. */
  async verdicts(): Promise<VerdictsView> {
    return this.#get<VerdictsView>('/verdicts');
  }

  async #get<T>(path: string): Promise<T> {
    const response = await fetch(`${this.httpUrl}${path}`, { signal: AbortSignal.timeout(10_000) });
    if (!response.ok) throw new Error(`${this.label}: GET ${path} answered ${response.status}`);
    return (await response.json()) as T;
  }
}

/** Writes a node's or server's configuration as JSON (which both `--config` readers take). */
export async function writeJsonConfig(path: string, config: unknown): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, `${JSON.stringify(config, null, 2)}\n`);
}
