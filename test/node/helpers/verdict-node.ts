import { generateKeyPair } from '@libp2p/crypto/keys';
import { type GossipSub, gossipsub } from '@libp2p/gossipsub';
import type { Ed25519PrivateKey } from '@libp2p/interface';
import { createNrpHelia, type NrpHelia } from '../../../src/ipfs/helia.js';
import { PenaltyManager, type PenaltyManagerInit } from '../../../src/node/penalties.js';
import { type ActiveKeyRegistry, type FollowedServer, RatingsClient } from '../../../src/node/ratings.js';

/** A node that follows rating servers and applies their penalties, wired as `createNrpNode` will wire it. */
export interface RatedNode {
  key: Ed25519PrivateKey;
  helia: NrpHelia<{ pubsub: GossipSub }>;
  ratings: RatingsClient;
  penalties: PenaltyManager;
  id: string;
  stop(): Promise<void>;
}

export interface RatedNodeOptions {
  registry: ActiveKeyRegistry;
  servers: FollowedServer[];
  dataDir?: string;
  /** Default one hour: tests poll with `pollOnce` unless they test the loop. */
  intervalMs?: number;
  maxResponseBytes?: number;
  penalties?: PenaltyManagerInit;
}

/**
 * Starts a rated node: the ratings client and penalty manager exist before
 * the libp2p host, which gets the manager's connection gater and gossipsub
 * application score; then both start with the host.
 *
 * @example
 * const node = await startRatedNode({ registry, servers: [publisher.followed('high')] });
 * await node.ratings.pollOnce();
 */
export async function startRatedNode(options: RatedNodeOptions): Promise<RatedNode> {
  const ratings = new RatingsClient(
    { registry: options.registry },
    {
      servers: options.servers,
      dataDir: options.dataDir,
      intervalMs: options.intervalMs ?? 3_600_000,
      maxResponseBytes: options.maxResponseBytes,
      timeoutMs: 5_000,
    },
  );
  const penalties = new PenaltyManager({ ratings }, options.penalties);
  const key = await generateKeyPair('Ed25519');
  const helia = await createNrpHelia<{ pubsub: GossipSub }>({
    privateKey: key,
    libp2p: {
      connectionGater: penalties.connectionGater(),
      services: { pubsub: gossipsub({ scoreParams: { appSpecificScore: penalties.appSpecificScore } }) },
    },
  });
  await ratings.start(helia.libp2p);
  // The loop polls once at start; polls run one after another, so this returns after that one. Then a test's
  // own pollOnce calls are the only ones until the next interval.
  if (options.intervalMs === undefined) await ratings.pollOnce();
  penalties.start(helia.libp2p);
  return {
    key,
    helia,
    ratings,
    penalties,
    id: helia.libp2p.peerId.toString(),
    async stop() {
      penalties.stop();
      await ratings.stop();
      await helia.stop();
      ratings.close();
    },
  };
}

/** A plain neighbour with gossipsub, to be rated. */
export async function startNeighbour(privateKey?: Ed25519PrivateKey): Promise<NrpHelia<{ pubsub: GossipSub }>> {
  return createNrpHelia<{ pubsub: GossipSub }>({ privateKey, libp2p: { services: { pubsub: gossipsub() } } });
}

/** Polls `check` every 25 ms until it holds, or throws after `timeoutMs`. */
export async function waitUntil(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** Collects the details of every `type` event `target` dispatches, for assertions after the fact. */
export function record<T>(target: EventTarget, type: string): T[] {
  const details: T[] = [];
  target.addEventListener(type, (event) => details.push((event as CustomEvent<T>).detail));
  return details;
}
