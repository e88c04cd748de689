import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import type { CID } from 'multiformats/cid';
import { createNrpHelia, type NrpHelia } from '../../src/ipfs/helia.js';
import { pinDepth, pinRoot, unpinRoot } from '../../src/ipfs/pins.js';
import { removeDir } from '../helpers/dirs.js';
import { cborBlock } from './helpers.js';

/** A three-level dag-cbor DAG like a list payload: a header that links chunks that link a leaf. */
async function putDag(helia: NrpHelia): Promise<{ root: CID; chunk: CID; leaf: CID }> {
  const leaf = await cborBlock({ leaf: true });
  const chunk = await cborBlock({ ids: ['a', 'b'], next: leaf.cid });
  const root = await cborBlock({ version: 1, chunks: [chunk.cid] });
  for (const block of [leaf, chunk, root]) await helia.blockstore.put(block.cid, block.bytes);
  return { root: root.cid, chunk: chunk.cid, leaf: leaf.cid };
}

describe('pins', function () {
  this.timeout(20_000);

  let nodes: NrpHelia[] = [];
  let dirs: string[] = [];

  async function startNode(dataDir?: string): Promise<NrpHelia> {
    const node = await createNrpHelia({ dataDir });
    nodes.push(node);
    return node;
  }

  afterEach(async () => {
    await Promise.all(nodes.map((node) => node.stop()));
    await Promise.all(dirs.map((dir) => removeDir(dir)));
    nodes = [];
    dirs = [];
  });

  it('keeps a pinned dag-cbor DAG through gc and deletes unpinned blocks', async () => {
    const helia = await startNode();
    const dag = await putDag(helia);
    const loose = await cborBlock({ loose: true });
    await helia.blockstore.put(loose.cid, loose.bytes);

    expect(await pinRoot(helia, dag.root)).to.equal(true);
    await helia.gc();

    for (const cid of [dag.root, dag.chunk, dag.leaf]) expect(await helia.blockstore.has(cid)).to.equal(true);
    expect(await helia.blockstore.has(loose.cid)).to.equal(false);
    expect(await pinDepth(helia, dag.root)).to.equal(Number.POSITIVE_INFINITY);
  });

  it('pins only down to the depth asked for, and deepens a pin when asked again', async () => {
    const helia = await startNode();
    const dag = await putDag(helia);

    expect(await pinRoot(helia, dag.root, { depth: 1 })).to.equal(true);
    expect(await helia.pins.isPinned(dag.chunk)).to.equal(true);
    expect(await helia.pins.isPinned(dag.leaf)).to.equal(false);
    // Already pinned at least this deep: nothing to do, where helia.pins.add would throw.
    expect(await pinRoot(helia, dag.root, { depth: 0 })).to.equal(false);

    expect(await pinRoot(helia, dag.root)).to.equal(true);
    expect(await helia.pins.isPinned(dag.leaf)).to.equal(true);
    expect(await pinDepth(helia, dag.root)).to.equal(Number.POSITIVE_INFINITY);
  });

  it('unpins so gc may collect, and says when there was nothing to unpin', async () => {
    const helia = await startNode();
    const dag = await putDag(helia);
    await pinRoot(helia, dag.root);

    expect(await unpinRoot(helia, dag.root)).to.equal(true);
    expect(await unpinRoot(helia, dag.root)).to.equal(false);
    await helia.gc();
    expect(await helia.blockstore.has(dag.leaf)).to.equal(false);
  });

  it('fetches the missing blocks of a DAG from a peer before pinning it', async () => {
    const a = await startNode();
    const b = await startNode();
    const dag = await putDag(a);
    await b.libp2p.dial(a.libp2p.getMultiaddrs(), { signal: AbortSignal.timeout(5_000) });

    expect(await pinRoot(b, dag.root, { signal: AbortSignal.timeout(5_000) })).to.equal(true);
    await b.gc();
    for (const cid of [dag.root, dag.chunk, dag.leaf]) expect(await b.blockstore.has(cid)).to.equal(true);
  });

  it('leaves no pin behind when fetching is aborted', async () => {
    const helia = await startNode();
    const missing = await cborBlock({ nobody: 'has this' });
    let error: unknown;
    try {
      await pinRoot(helia, missing.cid, { signal: AbortSignal.timeout(200) });
    } catch (err) {
      error = err;
    }
    expect(error).to.be.instanceOf(Error);
    expect(await pinDepth(helia, missing.cid)).to.equal(undefined);
    expect(await helia.pins.isPinned(missing.cid)).to.equal(false);
  });

  it('keeps pins across restarts of a node with a data folder', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'nrp-pins-'));
    dirs.push(dataDir);
    const first = await createNrpHelia({ dataDir });
    let dag: Awaited<ReturnType<typeof putDag>>;
    try {
      dag = await putDag(first);
      await pinRoot(first, dag.root);
    } finally {
      await first.stop();
    }

    const second = await startNode(dataDir);
    await second.gc();
    expect(await pinDepth(second, dag.root)).to.equal(Number.POSITIVE_INFINITY);
    expect(await second.blockstore.has(dag.leaf)).to.equal(true);
  });
});
