import { generateKeyPair } from '@libp2p/crypto/keys';
import type { Ed25519PrivateKey } from '@libp2p/interface';
import { waitForTransactionReceipt } from 'viem/actions';
import { registerServer, serverStatusCall } from '../../../src/chain/registry.js';
import { RegistrySync } from '../../../src/chain/registry-sync.js';
import { createNrpHelia, type NrpHelia } from '../../../src/ipfs/helia.js';
import { peerIdBytesOfKey } from '../../../src/node/protocol/peer.js';
import {
  createVerdictDelta,
  createVerdictSnapshot,
  diffVerdicts,
  type Rating,
  type Verdict,
  type VerdictDelta,
  type VerdictSnapshot,
} from '../../../src/node/protocol/verdict.js';
import { type FollowedServer, RATINGS_PROTOCOL, type ServerPriority, serveRatings } from '../../../src/node/ratings.js';
import { handleRequests } from '../../../src/node/rpc.js';
import { impersonatedWallet, publicClient, type ViemDao } from '../../chain/helpers.js';

const POLICY_CID = 'bafkreiggvevbocchx2r5kwth37o74qdqu25teoctv333lcpzaqk5oqdcja';

export interface VerdictPublisherOptions {
  dao: ViemDao;
  /** `active` (default): registered, then activated as the timelock; `applied`: registered only; `unregistered`. */
  status?: 'active' | 'applied' | 'unregistered';
  /** Serve deltas to clients that say what they hold. Default true. */
  deltas?: boolean;
}

/**
 * A minimal rating server for tests, on the real code: a libp2p host whose
 * Ed25519 key is registered (and by default activated) in the DAO's on-chain
 * registry, serving signed snapshots and deltas with `serveRatings`.
 *
 * @example
 * const publisher = await VerdictPublisher.start({ dao });
 * await publisher.publish([publisher.verdict(peer, 'black', 5_000)]);
 * const ratings = new RatingsClient({ registry }, { servers: [publisher.followed('high')] });
 */
export class VerdictPublisher {
  readonly key: Ed25519PrivateKey;
  readonly peerId: string;
  readonly serverId?: bigint;
  readonly #dao: ViemDao;
  readonly #deltas: boolean;
  #helia: NrpHelia;
  /** Every snapshot published, by seq, so deltas can go from any of them. */
  readonly #history = new Map<number, VerdictSnapshot>();
  /** What is served now: the newest snapshot unless a test serves something else. */
  #served?: VerdictSnapshot;
  #raw?: Uint8Array;
  #seq = 0;

  private constructor(
    dao: ViemDao,
    key: Ed25519PrivateKey,
    helia: NrpHelia,
    serverId: bigint | undefined,
    deltas: boolean,
  ) {
    this.#dao = dao;
    this.key = key;
    this.peerId = helia.libp2p.peerId.toString();
    this.#helia = helia;
    this.serverId = serverId;
    this.#deltas = deltas;
  }

  static async start(options: VerdictPublisherOptions): Promise<VerdictPublisher> {
    const { dao } = options;
    const key = await generateKeyPair('Ed25519');
    const helia = await createNrpHelia({ privateKey: key });
    let serverId: bigint | undefined;
    if ((options.status ?? 'active') !== 'unregistered') {
      ({ serverId } = await registerServer(dao.outsider, {
        registry: dao.registry,
        peerId: peerIdBytesOfKey(key),
        multiaddrs: helia.libp2p.getMultiaddrs().map(String),
        policyCid: POLICY_CID,
        list: dao.list,
      }));
    }
    const publisher = new VerdictPublisher(dao, key, helia, serverId, options.deltas ?? true);
    if ((options.status ?? 'active') === 'active') await publisher.setStatus('active');
    await publisher.#serve();
    return publisher;
  }

  get helia(): NrpHelia {
    return this.#helia;
  }

  /** How a node configures this server. */
  followed(priority: ServerPriority): FollowedServer {
    return { peerId: this.peerId, multiaddrs: this.#helia.libp2p.getMultiaddrs().map(String), priority };
  }

  /** A verdict on `peer` that expires `ttlMs` from now, with a reason and evidence (the next seq's report). */
  verdict(peer: Uint8Array, rating: Rating, ttlMs: number, reason = `rated ${rating} in a test`): Verdict {
    return {
      peer,
      rating,
      score: rating === 'black' ? -1 : rating === 'gray' ? -0.5 : 1,
      reason,
      evidence: [`report:${this.#seq + 1}`],
      expiresAt: Date.now() + ttlMs,
    };
  }

  /** Signs and serves a new snapshot at the next seq (or `seq`). */
  async publish(verdicts: Verdict[], options: { seq?: number; issuedAt?: number } = {}): Promise<VerdictSnapshot> {
    this.#seq = options.seq ?? this.#seq + 1;
    const snapshot = await createVerdictSnapshot(this.key, { seq: this.#seq, issuedAt: options.issuedAt, verdicts });
    this.#history.set(snapshot.seq, snapshot);
    this.#served = snapshot;
    if (this.#raw) await this.#serve();
    return snapshot;
  }

  /** Serves `snapshot` as if it were the newest (a replay, a forgery, one signed by another key). */
  async serve(snapshot: VerdictSnapshot): Promise<void> {
    this.#served = snapshot;
    if (this.#raw) await this.#serve();
  }

  /** Answers every request with these bytes, whatever they are, until the next `publish` or `serve`. */
  async serveRaw(bytes: Uint8Array): Promise<void> {
    await this.#serve(bytes);
  }

  /** Moves the server to `status` in the registry, as the timelock would after a vote. */
  async setStatus(status: 'active' | 'suspended' | 'removed'): Promise<void> {
    if (this.serverId === undefined) throw new Error('This publisher is not registered');
    const timelock = await impersonatedWallet(this.#dao.timelock);
    const { target, data } = serverStatusCall(this.#dao.registry, this.serverId, status);
    await waitForTransactionReceipt(publicClient, { hash: await timelock.sendTransaction({ to: target, data }) });
  }

  /** Goes down: every later request fails to connect. */
  async stop(): Promise<void> {
    await this.#helia.stop();
  }

  /** Serves snapshots and deltas with the real `serveRatings`, or, in raw mode, answers with fixed bytes. */
  async #serve(raw?: Uint8Array) {
    const libp2p = this.#helia.libp2p;
    await libp2p.unhandle(RATINGS_PROTOCOL);
    this.#raw = raw;
    if (raw) {
      await handleRequests(libp2p, RATINGS_PROTOCOL, async () => raw);
      return;
    }
    await serveRatings(libp2p, {
      getSnapshot: () => this.#served,
      getDelta: (since) => (this.#deltas ? this.#delta(since) : undefined),
    });
  }

  async #delta(since: number): Promise<VerdictDelta | undefined> {
    const base = this.#history.get(since);
    const served = this.#served;
    if (!base || !served || this.#history.get(served.seq) !== served) return undefined;
    return createVerdictDelta(this.key, {
      seq: served.seq,
      baseSeq: since,
      issuedAt: served.issuedAt,
      ...diffVerdicts(base.verdicts, served.verdicts),
    });
  }
}

/** The DAO's registry, followed and synced once: which keys are active rating servers, as a node learns it. */
export async function syncedRegistry(dao: Pick<ViemDao, 'registry'>): Promise<RegistrySync> {
  const registry = new RegistrySync(
    { registry: dao.registry, chainId: 31337, fromBlock: 0n },
    { client: publicClient },
  );
  await registry.syncOnce();
  return registry;
}
