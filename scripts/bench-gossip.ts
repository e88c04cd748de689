/**
 * bench:gossip — advert propagation over N local nodes in a connected random
 * topology, with the rating machinery on (a 1,000,000-entry list enforced,
 * signatures sampled, evidence checks) and off (plain re-advertising), in the
 * same run; then how many adverts one core validates per second.
 *
 *   npm run bench:gossip -- --nodes 20 --items 20
 *
 * The last line of stdout is one JSON object.
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { unixfs } from '@helia/unixfs';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { TopicValidatorResult } from '@libp2p/gossipsub';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { CID } from 'multiformats/cid';
import * as raw from 'multiformats/codecs/raw';
import { sha256 } from 'multiformats/hashes/sha2';
import { ADVERT_TOPIC } from '../src/node/adverts.js';
import { LocalList } from '../src/node/local-list.js';
import { createNrpNode, type NrpNode } from '../src/node/node.js';
import { createAdvert, encodeAdvert } from '../src/node/protocol/advert.js';

const TARGETS = { latencyRatio: 1.5, advertsValidatedPerSec: 20_000 };
const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '20' },
    items: { type: 'string', default: '20' },
    entries: { type: 'string', default: '1000000' },
    adverts: { type: 'string', default: '20000' },
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

/** Shares `ITEMS` files from random nodes and returns, per (item, node), ms from share to arrival. */
async function propagation(label: string, lists: LocalList[]): Promise<number[]> {
  const nodes: NrpNode[] = [];
  try {
    for (let i = 0; i < N; i++) nodes.push(await createNrpNode({ lists }));
    for (const [a, b] of topology(N)) await nodes[b].helia.libp2p.dial(nodes[a].helia.libp2p.getMultiaddrs());
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

/** Adverts one core validates per second through the node's real validator. */
async function validationRate(list: LocalList): Promise<number> {
  const node = await createNrpNode({ lists: [list], adverts: { autoFetch: false, ratePerSecond: 1e9, burst: 1e9 } });
  try {
    const validate = node.helia.libp2p.services.pubsub.topicValidators.get(ADVERT_TOPIC);
    if (!validate) throw new Error('no advert validator');
    const senders = await Promise.all(Array.from({ length: 50 }, () => generateKeyPair('Ed25519')));
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

console.error(`Plain: ${N} nodes, ${ITEMS} items, no lists…`);
const plain = await propagation('plain', []);
console.error(`Rated: ${N} nodes, ${ITEMS} items, the list enforced…`);
const rated = await propagation('rated', [bigList]);
console.error('Validating adverts on one core…');
const advertsValidatedPerSec = await validationRate(bigList);

const medianMs = { plain: percentile(plain, 50), rated: percentile(rated, 50) };
const p95Ms = { plain: percentile(plain, 95), rated: percentile(rated, 95) };
const latencyRatio = medianMs.rated / medianMs.plain;
console.log(`\nAdvert propagation over ${N} nodes (share → content held), ${ITEMS} items`);
console.table({
  plain: { median: medianMs.plain.toFixed(0), p95: p95Ms.plain.toFixed(0) },
  rated: { median: medianMs.rated.toFixed(0), p95: p95Ms.rated.toFixed(0) },
});
console.log(
  `latency ratio (rated/plain, median): ${latencyRatio.toFixed(2)} (target ≤ ${TARGETS.latencyRatio}); ` +
    `adverts validated per second on one core: ${advertsValidatedPerSec.toFixed(0)} (target ≥ ${TARGETS.advertsValidatedPerSec})`,
);
console.log('Sampling rule: every advert kept as evidence is verified; 1 in 64 clean adverts, at random.');
console.log(JSON.stringify({ nodes: N, medianMs, p95Ms, latencyRatio, advertsValidatedPerSec }));
if (latencyRatio > TARGETS.latencyRatio || advertsValidatedPerSec < TARGETS.advertsValidatedPerSec)
  process.exitCode = 1;
process.exit();
