import { StandardMerkleTree } from '@openzeppelin/merkle-tree';
import { expect } from 'chai';
import { hexlify, randomBytes } from 'ethers';
import { entryIdToHex } from '../../src/lists/entry-id.js';
import { EntryMerkleTree, entryMerkleRoot } from '../../src/lists/merkle.js';
import { daoFixture, networkHelpers } from '../helpers/dao.js';
import { impersonate } from '../helpers/impersonate.js';
import { cidBytes } from '../helpers/merkle.js';

const hex = (bytes: Uint8Array[]) => bytes.map((b) => hexlify(b));

function packedIds(n: number): Uint8Array {
  return randomBytes(32 * n);
}

function idAt(ids: Uint8Array, i: number): Uint8Array {
  return ids.slice(i * 32, i * 32 + 32);
}

describe('EntryMerkleTree', () => {
  it('builds the same root and proofs as OpenZeppelin StandardMerkleTree, for every shape of tree', async () => {
    for (const n of [1, 2, 3, 4, 5, 7, 8, 9, 31, 100]) {
      const ids = packedIds(n);
      const tree = await EntryMerkleTree.build(ids);
      const values = Array.from({ length: n }, (_, i) => [hexlify(idAt(ids, i))]);
      const reference = StandardMerkleTree.of(values, ['bytes32']);
      expect(hexlify(tree.root), `root of ${n}`).to.equal(reference.root);
      for (let i = 0; i < n; i++) {
        expect(hex(tree.proof(idAt(ids, i)) ?? []), `proof ${i} of ${n}`).to.deep.equal(reference.getProof(values[i]));
      }
    }
  });

  it('has no proof for an absent id', async () => {
    const tree = await EntryMerkleTree.build(packedIds(10));
    expect(tree.proof(randomBytes(32))).to.equal(undefined);
  });

  it('gives the zero root for the empty set, and refuses to build a tree of nothing', async () => {
    expect(hexlify(await entryMerkleRoot(new Uint8Array(0)))).to.equal(`0x${'00'.repeat(32)}`);
    await EntryMerkleTree.build(new Uint8Array(0)).then(
      () => expect.fail('built an empty tree'),
      (err) => expect(err).to.be.instanceOf(RangeError),
    );
  });

  it('reports progress and can be aborted', async () => {
    const progress: number[] = [];
    await EntryMerkleTree.build(packedIds(70_000), { onProgress: (done) => progress.push(done) });
    expect(progress.length).to.be.greaterThan(2);
    expect(progress.at(-1)).to.equal(140_000);
    const controller = new AbortController();
    controller.abort();
    await EntryMerkleTree.build(packedIds(10), { signal: controller.signal }).then(
      () => expect.fail('not aborted'),
      (err) => expect(err.name).to.equal('AbortError'),
    );
  });

  it('builds proofs that the deployed IllegalDataList verifies on chain, and none for absent ids', async () => {
    const { list, timelock } = await networkHelpers.loadFixture(daoFixture);
    const ids = packedIds(257);
    const tree = await EntryMerkleTree.build(ids);
    const executor = await impersonate(timelock);
    await list
      .connect(executor)
      .publishVersion(
        0n,
        tree.root,
        257n,
        257n,
        0n,
        cidBytes('bafkreiggvevbocchx2r5kwth37o74qdqu25teoctv333lcpzaqk5oqdcja'),
      );
    for (const i of [0, 1, 128, 256]) {
      const id = idAt(ids, i);
      expect(await list.isListed(id, tree.proof(id) ?? [])).to.equal(true);
      expect(await list.entryLeaf(id)).to.equal(hexlify(tree.leaf(id)));
    }
    const absent = randomBytes(32);
    expect(await list.isListed(absent, [])).to.equal(false);
    expect(await list.isListed(absent, tree.proof(idAt(ids, 0)) ?? [])).to.equal(false);
    expect(entryIdToHex(tree.root)).to.equal((await list.getVersion(1n)).root);
  });
});
