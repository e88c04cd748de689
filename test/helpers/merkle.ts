import { StandardMerkleTree } from '@openzeppelin/merkle-tree';
import { hexlify, randomBytes } from 'ethers';
import { CID } from 'multiformats/cid';

/** `n` random 32-byte entry ids. */
export function randomEntryIds(n: number): string[] {
  return Array.from({ length: n }, () => hexlify(randomBytes(32)));
}

/** The reference tree of a set of entry ids: OpenZeppelin's StandardMerkleTree over bytes32 leaves. */
export function entryTree(entryIds: string[]) {
  return StandardMerkleTree.of(
    entryIds.map((entryId) => [entryId]),
    ['bytes32'],
  );
}

/** The proof of `entryId` in `tree`. */
export function proofOf(tree: ReturnType<typeof entryTree>, entryId: string): string[] {
  return tree.getProof([entryId]);
}

/** The binary form of a CID string, as the list contract stores payload CIDs. */
export function cidBytes(cid: string): string {
  return hexlify(CID.parse(cid).bytes);
}
