/**
 * bench:gossip — advert propagation over N local nodes in a connected random
 * topology, with the rating machinery on and off (plain re-advertising), in
 * the same run; then how many adverts one core validates per second.
 *
 * Rated means: a 1,000,000-entry list enforced (signatures sampled, evidence
 * checks), and a signed verdict snapshot (`--verdicts`, default 10,000) taken
 * by every node through the real ratings path (`/nrp/ratings/1.0.0`, signature
 * and key checked) from a publisher whose key a static registry calls active.
 * Every bench node and advert sender has a verdict (white, so no penalty
 * changes the timing); the others are black verdicts on peers elsewhere. So
 * each advert's penalty lookup (`delayFor`) and each block served
 * (`serveDelay`) finds verdicts to weigh, as on a node in a rated network.
 *
 *   npm run bench:gossip -- --nodes 20 --items 20 --verdicts 10000
 *
 * The last line of stdout is one JSON object.
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { unixfs } from '@helia/unixfs';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { TopicValidatorResult } from '@libp2p/gossipsub';
import type { Ed25519PrivateKey } from '@libp2p/interface';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { CID } from 'multiformats/cid';
import * as raw from 'multiformats/codecs/raw';
import { sha256 } from 'multiformats/hashes/sha2';
import { equals } from 'uint8arrays/equals';
import { createNrpHelia, type NrpHelia } from '../src/ipfs/helia.js';
import { ADVERT_TOPIC } from '../src/node/adverts.js';
import { LocalList } from '../src/node/local-list.js';
import { createNrpNode, type NrpNode, type NrpNodeInit } from '../src/node/node.js';
import { createAdvert, encodeAdvert } from '../src/node/protocol/advert.js';
import { type PeerIdBytes, peerIdBytesOfKey, toPeerIdBytes } from '../src/node/protocol/peer.js';
import { createVerdictSnapshot, type Verdict, type VerdictSnapshot } from '../src/node/protocol/verdict.js';
import { type ActiveKeyRegistry, serveRatings } from '../src/node/ratings.js';

const TARGETS = { latencyRatio: 1.5, advertsValidatedPerSec: 20_000 };
const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '20' },
    items: { type: 'string', default: '20' },
    entries: { type: 'string', default: '1000000' },
    adverts: { type: 'string', default: '20000' },
    verdicts: { type: 'string', default: '10000' },
    seed: { type: 'string', default: '1' },
  },
});
const N = Number(values.nodes);
const ITEMS = Number(values.items);
let seed = Number(values.seed);

/** A small deterministic generator, so a topology can be run again. */
function random(): number {
  seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
  return seed / 2 ** 31;
}

/** A connected random graph: a random spanning tree, plus extra edges up to about degree 3. */
function topology(n: number): [number, number][] {
  const edges = new Set<string>();
  const order = Array.from({ length: n }, (_, i) => i).sort(() => random() - 0.5);
  for (let i = 1; i < n; i++) edges.add([order[Math.floor(random() * i)], order[i]].sort((a, b) => a - b).join('-'));
  while (edges.size < Math.round(n * 1.5)) {
    const [a, b] = [Math.floor(random() * n), Math.floor(random() * n)];
    if (a !== b) edges.add([a, b].sort((x, y) => x - y).join('-'));
  }
  return [...edges].map((e) => e.split('-').map(Number) as [number, number]);
}

function percentile(samples: number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/**
 * A rating server reduced to what nodes read of it: a host serving one signed snapshot over the real ratings
 * protocol, and a registry that calls its key (and no other) active.
 */
class VerdictPublisher {
  #snapshot?: VerdictSnapshot;
  #seq = 0;
  readonly registry: ActiveKeyRegistry;

  private constructor(
    readonly key: Ed25519PrivateKey,
    readonly helia: NrpHelia,
  ) {
    const bytes = peerIdBytesOfKey(key);
    this.registry = { isActiveKey: (peer) => equals(peer, bytes) };
  }

  static async start(): Promise<VerdictPublisher> {
    const key = await generateKeyPair('Ed25519');
    // Every bench node dials it at once, from one address: libp2p's defaults would refuse most of them. These
    // are a rating server's (src/server/server.ts).
    const helia = await createNrpHelia({
      privateKey: key,
      libp2p: { connectionManager: { inboundConnectionThreshold: 1_000, maxIncomingPendingConnections: 256 } },
    });
    const publisher = new VerdictPublisher(key, helia);
    await serveRatings(helia.libp2p, { getSnapshot: () => publisher.#snapshot });
    return publisher;
  }

  /** How a node follows it: at high priority, polled by hand (`pollOnce`) rather than on a timer. */
  get init(): Pick<NrpNodeInit, 'registry' | 'ratingServers' | 'ratings'> {
    return {
      registry: this.registry,
      ratingServers: [
        {
          peerId: this.helia.libp2p.peerId.toString(),
          multiaddrs: this.helia.libp2p.getMultiaddrs().map(String),
          priority: 'high',
        },
      ],
      ratings: { intervalMs: 3_600_000, timeoutMs: 60_000 },
    };
  }

  /** Signs a snapshot: white verdicts on `rated`, black ones on `strangers`, all valid for an hour. */
  async publish(rated: PeerIdBytes[], strangers: PeerIdBytes[]): Promise<number> {
    const expiresAt = Date.now() + 3_600_000;
    const verdict = (peer: PeerIdBytes, rating: 'white' | 'black'): Verdict => ({
      peer,
      rating,
      score: rating === 'white' ? 1 : -1,
      reason: rating === 'white' ? 'reports, no sightings' : 'first unexplained hop of listed content',
      evidence: rating === 'white' ? [] : ['report:1', 'sighting:1'],
      expiresAt,
    });
    const verdicts = [...rated.map((peer) => verdict(peer, 'white')), ...strangers.map((p) => verdict(p, 'black'))];
    this.#snapshot = await createVerdictSnapshot(this.key, { seq: ++this.#seq, verdicts });
    return verdicts.length;
  }

  /** Makes `nodes` take the snapshot now, and checks that each accepted all of it. */
  async deliver(nodes: NrpNode[], count: number): Promise<void> {
    for (const node of nodes) {
      const outcome = [...(await node.ratings.pollOnce()).values()];
      const held = node.ratings.allVerdicts().length;
      if (outcome[0] !== 'applied' && outcome[0] !== 'unchanged') throw new Error(`a node ${outcome[0]} the verdicts`);
      if (held !== count) throw new Error(`a node holds ${held} verdicts, not ${count}`);
    }
  }

  stop() {
    return this.helia.stop();
  }
}

/** Ed25519 peer ids of nobody in the bench: what most verdicts of a real server are about. */
function strangers(count: number): PeerIdBytes[] {
  const prefix = [0x00, 0x24, 0x08, 0x01, 0x12, 0x20];
  return Array.from({ length: count }, () => new Uint8Array([...prefix, ...randomBytes(32)]) as PeerIdBytes);
}

/**
 * Dials `to` from `from`, trying again after a moment if the connection is reset: with twenty nodes and a
 * million-entry list in one process, a node can be too busy (a GC pause) to accept at once.
 */
async function dialWithRetries(from: NrpNode, to: NrpNode, attempts = 5): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await from.helia.libp2p.dial(to.helia.libp2p.getMultiaddrs());
      return;
    } catch (error) {
      if (attempt >= attempts) throw error;
      console.error(`dial failed (${(error as Error).message}), trying again`);
      await new Promise((resolve) => setTimeout(resolve, 200 * attempt));
    }
  }
}

/**
 * Shares `ITEMS` files from random nodes and returns, per (item, node), ms from share to arrival. `prepare`
 * runs once the nodes are connected, before anything is shared.
 */
async function propagation(
  label: string,
  init: NrpNodeInit,
  prepare: (nodes: NrpNode[]) => Promise<void> = async () => {},
): Promise<number[]> {
  const nodes: NrpNode[] = [];
  try {
    for (let i = 0; i < N; i++) nodes.push(await createNrpNode(init));
    for (const [a, b] of topology(N)) await dialWithRetries(nodes[b], nodes[a]);
    await prepare(nodes);
    const deadline = Date.now() + 20_000;
    while (nodes.some((n) => n.helia.libp2p.services.pubsub.getSubscribers(ADVERT_TOPIC).length === 0)) {
      if (Date.now() > deadline) throw new Error('gossipsub never saw the topic peers');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const latencies: number[] = [];
    for (let item = 0; item < ITEMS; item++) {
      const origin = nodes[Math.floor(random() * N)];
      const bytes = new Uint8Array(randomBytes(4096));
      const cid = await unixfs(origin.helia).addBytes(bytes);
      const arrivals = new Map<NrpNode, number>();
      const done = new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`${label}: item ${item} reached ${arrivals.size + 1}/${N}`)),
          30_000,
        );
        for (const node of nodes) {
          if (node === origin) continue;
          node.adverts.addEventListener('content', function listener({ detail }) {
            if (!detail.cid.equals(cid)) return;
            arrivals.set(node, performance.now());
            node.adverts.removeEventListener('content', listener);
            if (arrivals.size === N - 1) {
              clearTimeout(timer);
              resolve();
            }
          });
        }
      });
      const start = performance.now();
      await origin.adverts.share(cid, bytes.length);
      await done;
      for (const at of arrivals.values()) latencies.push(at - start);
    }
    return latencies;
  } finally {
    await Promise.all(nodes.map((n) => n.stop()));
  }
}

/** Adverts one core validates per second through the node's real validator, verdicts on every sender loaded. */
async function validationRate(list: LocalList, publisher: VerdictPublisher, others: PeerIdBytes[]): Promise<number> {
  const node = await createNrpNode({
    lists: [list],
    // The senders deliver straight to the validator, with no connection to attest: count them as attested.
    adverts: { autoFetch: false, ratePerSecond: 1e9, burst: 1e9, acceptFrom: () => true },
    ...publisher.init,
  });
  try {
    const validate = node.helia.libp2p.services.pubsub.topicValidators.get(ADVERT_TOPIC);
    if (!validate) throw new Error('no advert validator');
    const senders = await Promise.all(Array.from({ length: 50 }, () => generateKeyPair('Ed25519')));
    await publisher.deliver([node], await publisher.publish(senders.map(peerIdBytesOfKey), others));
    if (node.penalties.delayFor(peerIdFromPrivateKey(senders[0]).toString()) !== 0)
      throw new Error('a sender is delayed');
    const messages: { peer: ReturnType<typeof peerIdFromPrivateKey>; data: Uint8Array }[] = [];
    for (let i = 0; i < Number(values.adverts); i++) {
      const key = senders[i % senders.length];
      const cid = CID.create(1, raw.code, await sha256.digest(randomBytes(16)));
      messages.push({
        peer: peerIdFromPrivateKey(key),
        data: encodeAdvert(await createAdvert(key, { cid, size: 100 })),
      });
    }
    const start = performance.now();
    for (const { peer, data } of messages) {
      const result = await validate(peer, { type: 'unsigned', topic: ADVERT_TOPIC, data });
      if (result !== TopicValidatorResult.Ignore) throw new Error(`a valid advert was answered ${result}`);
    }
    return messages.length / ((performance.now() - start) / 1000);
  } finally {
    await node.stop();
  }
}

console.error(`Building a ${Number(values.entries).toLocaleString('en')}-entry list…`);
const ids = Array.from({ length: Number(values.entries) }, () => new Uint8Array(randomBytes(32)));
const bigList = new LocalList(ids);

const others = strangers(Number(values.verdicts));
const publisher = await VerdictPublisher.start();

console.error(`Plain: ${N} nodes, ${ITEMS} items, no lists, no verdicts…`);
const plain = await propagation('plain', {});
console.error(`Rated: ${N} nodes, ${ITEMS} items, the list enforced, ${others.length.toLocaleString('en')}+ verdicts…`);
let verdictsLoaded = 0;
const rated = await propagation('rated', { lists: [bigList], ...publisher.init }, async (nodes) => {
  verdictsLoaded = await publisher.publish(
    nodes.map((node) => toPeerIdBytes(node.helia.libp2p.peerId)),
    others,
  );
  await publisher.deliver(nodes, verdictsLoaded);
});
console.error('Validating adverts on one core…');
const advertsValidatedPerSec = await validationRate(bigList, publisher, others);
await publisher.stop();

const medianMs = { plain: percentile(plain, 50), rated: percentile(rated, 50) };
const p95Ms = { plain: percentile(plain, 95), rated: percentile(rated, 95) };
const latencyRatio = medianMs.rated / medianMs.plain;
console.log(
  `\nAdvert propagation over ${N} nodes (share → content held), ${ITEMS} items; ` +
    `rated nodes hold ${verdictsLoaded.toLocaleString('en')} verdicts each`,
);
console.table({
  plain: { median: medianMs.plain.toFixed(0), p95: p95Ms.plain.toFixed(0) },
  rated: { median: medianMs.rated.toFixed(0), p95: p95Ms.rated.toFixed(0) },
});
console.log(
  `latency ratio (rated/plain, median): ${latencyRatio.toFixed(2)} (target ≤ ${TARGETS.latencyRatio}); ` +
    `adverts validated per second on one core: ${advertsValidatedPerSec.toFixed(0)} (target ≥ ${TARGETS.advertsValidatedPerSec})`,
);
console.log('Sampling rule: every advert kept as evidence is verified; 1 in 64 clean adverts, at random.');
console.log(JSON.stringify({ nodes: N, medianMs, p95Ms, latencyRatio, advertsValidatedPerSec, verdictsLoaded }));
if (latencyRatio > TARGETS.latencyRatio || advertsValidatedPerSec < TARGETS.advertsValidatedPerSec)
  process.exitCode = 1;
process.exit();
