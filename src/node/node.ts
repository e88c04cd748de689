import { join } from 'node:path';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { type GossipSub, gossipsub } from '@libp2p/gossipsub';
import { logger } from '@libp2p/logger';
import { sha256 } from '@noble/hashes/sha2.js';
import type { Blockstore } from 'interface-blockstore';
import { CID } from 'multiformats/cid';
import { deleteDag } from '../ipfs/dag.js';
import { createNrpHelia, type NrpHelia, type NrpHeliaInit } from '../ipfs/helia.js';
import { loadOrCreatePrivateKey } from '../ipfs/keys.js';
import { ADVERT_TOPIC, ADVERT_TOPIC_SCORE_PARAMS, AdvertService, type AdvertServiceInit } from './adverts.js';
import { DelayedAdverts } from './delayed-adverts.js';
import { EdgeService, type EdgeServiceInit } from './edges.js';
import { enforcingBlockstore } from './enforcing-blockstore.js';
import type { EnforcedList } from './local-list.js';
import {
  APP_SPECIFIC_WEIGHT,
  GOSSIP_SCORE_THRESHOLDS,
  IP_COLOCATION_WHITELIST,
  PenaltyManager,
  type PenaltyManagerInit,
} from './penalties.js';
import { type ActiveKeyRegistry, type FollowedServer, RatingsClient, type RatingsClientInit } from './ratings.js';
import { Reporter, type ReporterInit } from './reporter.js';
import { NodeStore } from './store.js';
import { TrafficPriority } from './traffic-priority.js';

const log = logger('nrp:node');

export interface NrpNodeInit extends Pick<NrpHeliaInit, 'listen' | 'bootstrap' | 'mdns' | 'signal'> {
  /** Keeps blocks, key, content and evidence across restarts. Without it, everything is in memory. */
  dataDir?: string;
  /** The lists this node enforces (synced from chain, or local); it refuses what any of them lists. */
  lists?: EnforcedList[];
  adverts?: AdvertServiceInit;
  edges?: EdgeServiceInit;
  /** Who says which keys are active rating servers: the registry follower. Without it no verdict counts. */
  registry?: ActiveKeyRegistry;
  /** Rating servers whose verdicts this node applies, each with a priority. */
  ratingServers?: FollowedServer[];
  ratings?: Omit<RatingsClientInit, 'servers' | 'dataDir'>;
  penalties?: PenaltyManagerInit;
  /** Reports to rating servers; the servers may also be set later with `reporter.setServers`. */
  reporter?: ReporterInit;
  /**
   * List and rating traffic ahead of content fetches. Give the node's list syncs its `urgent` too; default: a
   * new one, which the node's verdict fetches use.
   */
  priority?: TrafficPriority;
}

/** A running Node Rating P2P node. */
export interface NrpNode {
  helia: NrpHelia<{ pubsub: GossipSub }>;
  adverts: AdvertService;
  /** Our adverts to delayed neighbours, which gossip skips, sent to them late. */
  delayedAdverts: DelayedAdverts;
  /** List and rating traffic ahead of content fetches. */
  priority: TrafficPriority;
  /** Signed edge attestations with every neighbour. */
  edges: EdgeService;
  /** Signed reports of edges and evidence to the rating servers the node follows. */
  reporter: Reporter;
  /** Signed verdicts from the rating servers the node follows, kept until they expire. */
  ratings: RatingsClient;
  /** What the node holds against each peer, and why. */
  penalties: PenaltyManager;
  store: NodeStore;
  /** Whether any enforced list lists `cid`. */
  isListed(cid: CID): boolean;
  stop(): Promise<void>;
}

/**
 * Starts a node: one libp2p host (tcp, WebSockets, noise, yamux, identify,
 * ping, gossipsub) carrying both bitswap and the advert gossip, over a blockstore
 * that refuses listed blocks to everyone. When a list moves to a new
 * version, content it now lists is dropped from the store and never
 * advertised again.
 *
 * @example
 * const node = await createNrpNode({ dataDir, lists: [listSync], listen: ['/ip4/0.0.0.0/tcp/4001'] });
 * await node.adverts.share(cid, size, 'file.txt');
 */
export async function createNrpNode(init: NrpNodeInit = {}): Promise<NrpNode> {
  const lists = init.lists ?? [];
  const isListed = (cid: CID) => lists.some((list) => list.hasCid(cid));
  let rawBlockstore: Blockstore | undefined;
  const privateKey = init.dataDir
    ? await loadOrCreatePrivateKey(join(init.dataDir, 'ipfs', 'peer.key'), { signal: init.signal })
    : await generateKeyPair('Ed25519');
  // Penalties act inside libp2p (gater, gossipsub score), so they exist before it does.
  const priority = init.priority ?? new TrafficPriority();
  const ratings = new RatingsClient(
    { registry: init.registry ?? NO_ACTIVE_KEYS },
    { urgent: priority.urgent, ...init.ratings, servers: init.ratingServers ?? [], dataDir: init.dataDir },
  );
  const penalties = new PenaltyManager({ ratings }, init.penalties);
  const helia = await createNrpHelia<{ pubsub: GossipSub }>({
    dataDir: init.dataDir && join(init.dataDir, 'ipfs'),
    privateKey,
    listen: init.listen,
    bootstrap: init.bootstrap,
    mdns: init.mdns,
    signal: init.signal,
    // A delayed peer gets the blocks it asks for late, as it gets our adverts late.
    serveDelay: (peer) => penalties.delayFor(peer.toString()),
    wrapBlockstore: (store) => {
      rawBlockstore = store;
      return enforcingBlockstore(store, isListed);
    },
    libp2p: {
      connectionGater: penalties.connectionGater(),
      services: {
        pubsub: gossipsub({
          // A delayed peer lands below the publish threshold (our gossip skips it) and above the graylist one.
          // Rejected adverts count against their sender too (ADVERT_TOPIC_SCORE_PARAMS).
          scoreParams: {
            appSpecificScore: penalties.appSpecificScore,
            appSpecificWeight: APP_SPECIFIC_WEIGHT,
            topics: { [ADVERT_TOPIC]: ADVERT_TOPIC_SCORE_PARAMS },
            IPColocationFactorWhitelist: new Set(IP_COLOCATION_WHITELIST),
          },
          scoreThresholds: GOSSIP_SCORE_THRESHOLDS,
          // Adverts carry their own signature and are never forwarded, so the sender is the connection's
          // authenticated peer: a second, gossipsub-level signature would only double the verification cost.
          globalSignaturePolicy: 'StrictNoSign',
          msgIdFn: (message) => sha256(message.data),
          // Adverts go to every subscribed neighbour; the validator keeps them from going further.
          floodPublish: true,
          allowPublishToZeroTopicPeers: true,
          ignoreDuplicatePublishError: true,
        }),
      },
    },
  });
  const store = NodeStore.open(init.dataDir ? join(init.dataDir, 'node.db') : ':memory:');
  const dbPath = (name: string) => (init.dataDir ? join(init.dataDir, name) : undefined);
  const edges = new EdgeService({ libp2p: helia.libp2p, privateKey, dbPath: dbPath('edges.db') }, init.edges);
  await edges.start();
  const adverts = new AdvertService(
    { helia, privateKey, store, isListed },
    {
      delayFrom: penalties.delayFor,
      acceptFrom: (peer, options) => edges.isAttested(peer, options),
      priority,
      ...init.adverts,
    },
  );
  adverts.start();
  const delayedAdverts = new DelayedAdverts({ libp2p: helia.libp2p, adverts }, { delayTo: penalties.delayTo });
  await delayedAdverts.start();
  const reporter = new Reporter(
    { libp2p: helia.libp2p, privateKey, store, edges, dbPath: dbPath('reports.db') },
    init.reporter,
  );
  await reporter.start();
  await ratings.start(helia.libp2p);
  penalties.start(helia.libp2p);

  // Blocks first, then the record: content that is no longer on record is gone from disk too, and a
  // purge cut short by a crash is finished at the next start.
  const purge = async () => {
    for (const cid of adverts.listedContent()) {
      const blocks = await deleteDag(
        { blockstore: rawBlockstore as Blockstore, getCodec: helia.getCodec },
        CID.parse(cid),
      );
      store.removeContent([cid]);
      log('dropped listed content %s (%d blocks)', cid, blocks);
    }
  };
  const onVersion = () => {
    purge().catch((error) => log.error('could not drop listed content: %e', error));
  };
  for (const list of lists) list.addEventListener('version', onVersion);
  await purge();

  return {
    helia,
    adverts,
    delayedAdverts,
    priority,
    edges,
    reporter,
    ratings,
    penalties,
    store,
    isListed,
    async stop() {
      for (const list of lists) list.removeEventListener('version', onVersion);
      penalties.stop();
      await ratings.stop();
      // The reporter reads the edges database and the store: it stops first.
      await reporter.stop();
      await edges.stop();
      await delayedAdverts.stop();
      adverts.stop();
      await helia.stop();
      ratings.close();
      store.close();
    },
  };
}

/** Before the registry is known, no key is active, so no verdict applies. */
const NO_ACTIVE_KEYS: ActiveKeyRegistry = { isActiveKey: () => false };
