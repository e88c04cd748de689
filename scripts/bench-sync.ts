/**
 * bench:sync — sync a list payload of N entries from one Helia node to another
 * over loopback bitswap, verify it and index it, then measure lookups.
 *
 *   npm run bench:sync -- --entries 1000000
 *
 * The publisher runs in a child process, so the peak RSS measured here is the
 * syncing side's alone. Baseline in the same run: a Set of hex strings.
 * The last line of stdout is one JSON object.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { multiaddr } from '@multiformats/multiaddr';
import { CID } from 'multiformats/cid';
import { createNrpHelia } from '../src/ipfs/helia.js';
import { entryIdToHex } from '../src/lists/entry-id.js';
import { MembershipIndex } from '../src/lists/membership-index.js';
import { EntryMerkleTree } from '../src/lists/merkle.js';
import { decodePayload, encodePayload } from '../src/lists/payload.js';
import { packIds } from '../src/lists/set-ops.js';

const LIST = '0x9fe46736679d2d9a65f0992f2272de9f3c7fa6e0';
const TARGETS = { syncSeconds: 10, lookupNs: 1000, memoryRatioVsSet: 0.4 };

const { values } = parseArgs({
  options: {
    entries: { type: 'string', default: '1000000' },
    lookups: { type: 'string', default: '1000000' },
    publisher: { type: 'boolean', default: false },
  },
});
const entries = Number(values.entries);
if (!Number.isInteger(entries) || entries < 1) throw new Error(`--entries must be a positive number`);

if (values.publisher) await publish();
else await measure();

/** Child process: builds and pins the payload, prints where to get it, serves until killed. */
async function publish() {
  const ids = new Uint8Array(randomBytes(entries * 32));
  const sorted = packIds(Array.from({ length: entries }, (_, i) => ids.subarray(i * 32, i * 32 + 32)));
  const helia = await createNrpHelia();
  const tree = await EntryMerkleTree.build(sorted);
  const payload = await encodePayload(helia.blockstore, {
    chainId: 31337,
    list: LIST,
    version: 1,
    ids: sorted,
    added: sorted.length / 32,
    removed: 0,
    root: tree.root,
  });
  process.stdout.write(
    `${JSON.stringify({
      cid: payload.cid.toString(),
      root: entryIdToHex(tree.root),
      count: sorted.length / 32,
      address: helia.libp2p.getMultiaddrs()[0].toString(),
      // A sample of members, for lookups that hit.
      members: Array.from({ length: 1000 }, (_, i) => entryIdToHex(sorted.subarray(i * 32, i * 32 + 32))).slice(
        0,
        Math.min(1000, entries),
      ),
    })}\n`,
  );
  await new Promise(() => {});
}

async function measure() {
  console.error(`Building a payload of ${entries.toLocaleString('en')} entries in a publisher process…`);
  const child = spawn(
    process.execPath,
    [...process.execArgv, process.argv[1], '--publisher', '--entries', String(entries)],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const published = await new Promise<{ cid: string; root: string; count: number; address: string; members: string[] }>(
    (resolve, reject) => {
      let text = '';
      child.stdout.on('data', (d) => {
        text += d;
        if (text.includes('\n')) resolve(JSON.parse(text));
      });
      child.on('exit', (code) => reject(new Error(`publisher exited with ${code}`)));
    },
  );

  try {
    const helia = await createNrpHelia();
    await helia.libp2p.dial(multiaddr(published.address));
    console.error('Syncing over loopback bitswap: fetch, verify root and count, index…');
    const started = performance.now();
    const payload = await decodePayload(helia.blockstore, CID.parse(published.cid), {
      expected: { root: hexBytes(published.root), count: published.count, chainId: 31337, list: LIST, version: 1 },
    });
    const index = MembershipIndex.fromSortedIds(payload.ids);
    const syncSeconds = (performance.now() - started) / 1000;
    const rssMB = process.resourceUsage().maxRSS / 1024;
    await helia.stop();

    const lookups = Number(values.lookups);
    const members = published.members.map(hexBytes);
    const probes = Array.from({ length: lookups }, (_, i) =>
      i % 2 === 0 ? members[i % members.length] : new Uint8Array(randomBytes(32)),
    );
    const lookupNs = medianNsPerLookup(probes, (id) => index.has(id));

    // Baseline: the same ids as a Set of hex strings, the obvious way to hold them.
    const heapBefore = heapUsed();
    const set = new Set<string>();
    for (let i = 0; i < payload.ids.length; i += 32) set.add(flatHex(payload.ids.subarray(i, i + 32)));
    const setHeapMB = (heapUsed() - heapBefore) / 2 ** 20;
    const hexProbes = probes.map(flatHex);
    const setLookupNs = medianNsPerLookup(hexProbes, (hex) => set.has(hex));
    const indexMB = index.byteLength / 2 ** 20;
    const memoryRatioVsSet = indexMB / setHeapMB;

    console.log(`\nSync of ${entries.toLocaleString('en')} entries over loopback bitswap`);
    console.table({
      'sync (s)': { value: syncSeconds.toFixed(2), target: `≤ ${TARGETS.syncSeconds}` },
      'peak RSS (MB)': { value: rssMB.toFixed(0), target: '' },
      'index lookup (ns, median)': { value: lookupNs.toFixed(0), target: `≤ ${TARGETS.lookupNs}` },
      'Set lookup (ns, median)': { value: setLookupNs.toFixed(0), target: 'baseline' },
      'index (MB)': { value: indexMB.toFixed(1), target: '' },
      'Set of hex ids (MB of heap)': { value: setHeapMB.toFixed(1), target: 'baseline' },
      'index / Set memory': { value: memoryRatioVsSet.toFixed(3), target: `≤ ${TARGETS.memoryRatioVsSet}` },
    });
    const missed = [
      syncSeconds > TARGETS.syncSeconds && 'syncSeconds',
      lookupNs > TARGETS.lookupNs && 'lookupNs',
      memoryRatioVsSet > TARGETS.memoryRatioVsSet && 'memoryRatioVsSet',
    ].filter(Boolean);
    console.log(missed.length === 0 ? 'All targets met.' : `Missed: ${missed.join(', ')}`);
    console.log(
      JSON.stringify({ entries, syncSeconds, rssMB, lookupNs, setHeapMB, indexMB, memoryRatioVsSet, setLookupNs }),
    );
    if (missed.length > 0) process.exitCode = 1;
  } finally {
    child.kill();
  }
}

/** Median over batches of the time per call, so a GC pause in one batch does not skew the figure. */
function medianNsPerLookup<T>(probes: T[], lookup: (probe: T) => boolean): number {
  const batch = 10_000;
  const samples: number[] = [];
  let hits = 0;
  for (let start = 0; start < probes.length; start += batch) {
    const end = Math.min(start + batch, probes.length);
    const t = process.hrtime.bigint();
    for (let i = start; i < end; i++) if (lookup(probes[i])) hits++;
    samples.push(Number(process.hrtime.bigint() - t) / (end - start));
  }
  if (hits === 0) throw new Error('no lookup hit: the benchmark is not measuring members');
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)];
}

/** Hex as one flat string (Buffer's encoder), not the concatenated rope that string building leaves. */
function flatHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

function heapUsed(): number {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().heapUsed;
}

function hexBytes(hex: string): Uint8Array {
  return new Uint8Array(Buffer.from(hex.slice(2), 'hex'));
}
