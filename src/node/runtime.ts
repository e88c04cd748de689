import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { unixfs } from '@helia/unixfs';
import { logger } from '@libp2p/logger';
import { peerIdFromString } from '@libp2p/peer-id';
import type { CID } from 'multiformats/cid';
import { type Address, getAddress } from 'viem';
import { getChainId } from 'viem/actions';
import { chainFromId, createNrpClients } from '../chain/clients.js';
import { readDeployment } from '../chain/deployment.js';
import { RegistrySync } from '../chain/registry-sync.js';
import { pinRoot } from '../ipfs/pins.js';
import { parseEntryList } from '../lists/denylist.js';
import { ListSync } from '../lists/sync.js';
import type { NodeConfig } from './config.js';
import { ControlApiError, startControlServer } from './control.js';
import { LocalList } from './local-list.js';
import { createNrpNode, type NrpNode } from './node.js';
import { TrafficPriority } from './traffic-priority.js';

const log = logger('nrp:node:runtime');

export class NodeStartError extends Error {
  override name = 'NodeStartError';
}

/** A node started from its configuration, with its chain followers and control API. */
export interface RunningNode {
  node: NrpNode;
  lists: ListSync[];
  registry?: RegistrySync;
  controlUrl: string;
  status(): Promise<NodeStatus>;
  why(peer: string): Promise<PeerExplanation>;
  add(bytes: Uint8Array, name?: string): Promise<{ cid: string; size: number }>;
  stop(): Promise<void>;
}

export interface NodeStatus {
  peerId: string;
  addresses: string[];
  peers: { peerId: string; address: string }[];
  /** Peers the node penalises, and why. */
  penalties: ({ peer: string } & ReturnType<NrpNode['penalties']['penaltyOf']>)[];
  /** Reports waiting to reach a rating server. */
  pendingReports: ReturnType<NrpNode['reporter']['pending']>;
  /** Sightings a server refused because its list has not caught up yet, held to be sent again. */
  heldSightings: ReturnType<NrpNode['reporter']['held']>;
  lists: { list: string; version: string; count: number; payloadCid?: string }[];
  content: number;
  evidence: number;
}

export interface PeerExplanation {
  peer: string;
  connected: boolean;
  /** The penalty applied, with every verdict behind it: server, rating, reason, evidence, expiry. */
  penalty: ReturnType<NrpNode['penalties']['penaltyOf']>;
  /** Listed content this peer offered us, kept as evidence. */
  evidence: { cid: string; seenAt: number }[];
}

export interface StartNodeOptions {
  signal?: AbortSignal;
  /**
   * Called with each list's sync before it starts, to watch its `version` and `error` events from the first sync
   * on: the start waits for that sync, which can take the payload fetch's whole timeout.
   */
  onList?: (list: ListSync) => void;
}

/**
 * Starts a node as its configuration says: follows the registry and the lists
 * of the rating servers it follows (or the deployment's list), enforces them
 * and any local lists, and serves the control API.
 *
 * @example
 * const running = await startNode(await loadNodeConfig('node.yaml'));
 * process.once('SIGINT', () => running.stop());
 */
export async function startNode(config: NodeConfig, options: StartNodeOptions = {}): Promise<RunningNode> {
  const deployment = config.chain.deployment ? await readDeployment(config.chain.deployment) : undefined;
  const probe = createNrpClients({ rpcUrl: config.chain.rpc }).publicClient;
  const chainId = await getChainId(probe).catch((error) => {
    throw new NodeStartError(`Cannot reach the chain at ${config.chain.rpc}: ${(error as Error).message}`);
  });
  const expected = config.chain.chainId ?? deployment?.chainId;
  if (expected !== undefined && expected !== chainId) {
    throw new NodeStartError(
      `Wrong chain: ${config.chain.rpc} is chain ${chainId}, the configuration says ${expected}`,
    );
  }
  const client = createNrpClients({
    rpcUrl: config.chain.rpc,
    chain: chainFromId(chainId, config.chain.rpc),
    pollingInterval: config.intervals.chainPollMs,
  }).publicClient;
  const fromBlock = BigInt(deployment?.fromBlock ?? config.chain.fromBlock);
  const syncDir = join(config.dataDir, 'sync');

  const registryAddress = config.chain.registry ?? deployment?.contracts.RatingServerRegistry;
  let registry: RegistrySync | undefined;
  if (registryAddress) {
    registry = new RegistrySync(
      {
        registry: getAddress(registryAddress),
        chainId,
        fromBlock,
        confirmations: config.chain.confirmations,
        pollIntervalMs: config.intervals.chainPollMs,
        checkpointPath: join(syncDir, `${chainId}-registry.json`),
      },
      { client },
    );
    await registry.restore();
    await registry.syncOnce(options);
  }

  /** A followed server's registration, as the registry knows it now. */
  const registered = (server: { peerId: string }) =>
    registry?.serverByPeerId(peerIdFromString(server.peerId).toMultihash().bytes);

  const listAddresses = new Set<Address>(config.lists.map((l) => getAddress(l)));
  for (const server of config.servers) {
    const list = server.list ?? registered(server)?.list;
    if (list) listAddresses.add(getAddress(list));
    else log('server %s is not registered yet; its list is not enforced until it is', server.peerId);
  }
  if (listAddresses.size === 0 && deployment) listAddresses.add(deployment.contracts.IllegalDataList);

  // The node's blockstore exists only once the node does; syncs reach it through this late binding.
  let node: NrpNode | undefined;
  const blockstore = {
    get: (cid: Parameters<NrpNode['helia']['blockstore']['get']>[0], o?: { signal?: AbortSignal }) =>
      (node as NrpNode).helia.blockstore.get(cid, o),
  };
  // A list version on its way goes ahead of content fetches, as verdicts do.
  const priority = new TrafficPriority();
  const lists = [...listAddresses].map(
    (list) =>
      new ListSync(
        {
          list,
          chainId,
          fromBlock,
          confirmations: config.chain.confirmations,
          pollIntervalMs: config.intervals.chainPollMs,
          checkpointPath: join(syncDir, `${chainId}-${list.toLowerCase()}.json`),
        },
        { client, blockstore, pin: (cid, o) => pinRoot((node as NrpNode).helia, cid, o), urgent: priority.urgent },
      ),
  );
  const localLists: LocalList[] = [];
  for (const path of config.localLists) {
    const parsed = parseEntryList(await readFile(path, 'utf8'));
    const doubleHashes = parsed.entries.some((e) => e.form === 'ipip383' || e.form === 'ipip383-legacy');
    localLists.push(
      new LocalList(
        parsed.entries.map((e) => e.id),
        { doubleHashes },
      ),
    );
  }

  node = await createNrpNode({
    dataDir: config.dataDir,
    listen: config.listen,
    bootstrap: config.bootstrap,
    mdns: config.mdns,
    signal: options.signal,
    lists: [...lists, ...localLists],
    adverts: {
      autoFetch: config.fetch.auto,
      maxFetchBytes: config.fetch.maxBytes,
      fetchConcurrency: config.fetch.concurrency,
    },
    edges: { refreshMs: config.intervals.edgeRefreshMs },
    reporter: { intervalMs: config.intervals.reportMs },
    registry,
    ratingServers: config.servers.map((server) => ({
      peerId: server.peerId,
      priority: server.priority,
      multiaddrs: server.multiaddrs ?? registered(server)?.multiaddrs ?? [],
    })),
    ratings: { intervalMs: config.intervals.ratingsMs },
    penalties: { delayMs: config.penalties.delayMs },
    priority,
  });
  const running = node;
  const listSyncs = new Map([...listAddresses].map((address, i) => [address, lists[i]]));
  // Report to every followed server at the addresses configured, or else registered, only sightings of content
  // its own list lists (a server refuses a whole report for one it does not); follow registry changes.
  const reportTo = () =>
    running.reporter.setServers(
      config.servers.flatMap((server) => {
        const multiaddrs = server.multiaddrs ?? registered(server)?.multiaddrs ?? [];
        const list = server.list ?? registered(server)?.list;
        const sync = list === undefined ? undefined : listSyncs.get(getAddress(list));
        // A list not synced here (registered after start): every sighting, and the server sorts them out.
        const isListed = sync && ((cid: CID) => sync.hasCid(cid));
        return multiaddrs.length > 0 ? [{ peerId: server.peerId, multiaddrs, ...(isListed && { isListed }) }] : [];
      }),
    );
  reportTo();
  registry?.addEventListener('change', reportTo);
  for (const list of lists) options.onList?.(list);
  await Promise.all(lists.map((list) => list.start(options)));
  await registry?.start(options);

  const status = async (): Promise<NodeStatus> => ({
    peerId: running.helia.libp2p.peerId.toString(),
    addresses: running.helia.libp2p.getMultiaddrs().map(String),
    peers: running.helia.libp2p
      .getConnections()
      .map((c) => ({ peerId: c.remotePeer.toString(), address: c.remoteAddr.toString() })),
    lists: lists.map((l) => ({
      list: l.current.list,
      version: l.current.version.toString(),
      count: l.current.count,
      payloadCid: l.current.payloadCid?.toString(),
    })),
    penalties: [...running.penalties.penalties].map(([peer, penalty]) => ({ peer, ...penalty })),
    pendingReports: running.reporter.pending(),
    heldSightings: running.reporter.held(),
    content: running.store.countContent(),
    evidence: running.store.countEvidence(),
  });
  const why = async (peer: string): Promise<PeerExplanation> => {
    try {
      peerIdFromString(peer);
    } catch {
      throw new ControlApiError(`Not a peer id: ${peer} (node status lists the peers, e.g. 12D3KooW…)`);
    }
    return {
      peer,
      connected: running.helia.libp2p.getConnections().some((c) => c.remotePeer.toString() === peer),
      penalty: running.penalties.penaltyOf(peer),
      evidence: running.store.listEvidence({ fromPeer: peer }).map((e) => ({ cid: e.cid, seenAt: e.seenAt })),
    };
  };
  const add = async (bytes: Uint8Array, name?: string) => {
    const cid = await unixfs(running.helia).addBytes(bytes);
    await running.adverts.share(cid, bytes.length, name);
    return { cid: cid.toString(), size: bytes.length };
  };
  const control = await startControlServer(
    { status, why, add },
    { dataDir: config.dataDir, port: config.control.port },
  );

  return {
    node: running,
    lists,
    registry,
    controlUrl: control.endpoint.url,
    status,
    why,
    add,
    async stop() {
      await control.close();
      await Promise.all(lists.map((list) => list.stop()));
      await registry?.stop();
      await running.stop();
    },
  };
}
