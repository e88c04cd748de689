import * as dagCbor from '@ipld/dag-cbor';
import { MemoryBlockstore } from 'blockstore-core/memory';
import { expect } from 'chai';
import { randomBytes } from 'ethers';
import { CID } from 'multiformats/cid';
import * as raw from 'multiformats/codecs/raw';
import { sha256 } from 'multiformats/hashes/sha2';
import { BlockHashMismatchError, isBlockUnavailable } from '../../src/lists/blocks.js';
import { compareIds, entryIdToHex } from '../../src/lists/entry-id.js';
import { entryMerkleRoot } from '../../src/lists/merkle.js';
import {
  decodePayload,
  encodePayload,
  IDS_PER_CHUNK,
  MAX_BLOCK_BYTES,
  PAYLOAD_FORMAT,
  PayloadChunkTooLargeError,
  PayloadCodecError,
  PayloadCountMismatchError,
  PayloadDuplicateEntryError,
  PayloadError,
  PayloadFormatError,
  PayloadHeaderMismatchError,
  PayloadMetadataError,
  PayloadRootMismatchError,
  PayloadUnsortedError,
} from '../../src/lists/payload.js';

const LIST = '0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0';

function sortedIds(n: number): Uint8Array {
  const ids = Array.from({ length: n }, () => randomBytes(32)).sort(compareIds);
  const packed = new Uint8Array(n * 32);
  ids.forEach((id, i) => {
    packed.set(id, i * 32);
  });
  return packed;
}

async function putCbor(store: MemoryBlockstore, value: unknown): Promise<CID> {
  const bytes = dagCbor.encode(value);
  const cid = CID.create(1, dagCbor.code, await sha256.digest(bytes));
  await store.put(cid, bytes);
  return cid;
}

/** A header whose fields are right for `ids`, to be spoiled one field at a time. */
async function header(store: MemoryBlockstore, chunks: Uint8Array[], overrides: Record<string, unknown> = {}) {
  const all = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let offset = 0;
  for (const c of chunks) {
    all.set(c, offset);
    offset += c.length;
  }
  return putCbor(store, {
    format: PAYLOAD_FORMAT,
    chainId: 31337,
    list: LIST.toLowerCase(),
    version: 1,
    root: await entryMerkleRoot(all),
    count: all.length / 32,
    added: all.length / 32,
    removed: 0,
    parent: null,
    doubleHashes: false,
    chunks: await Promise.all(chunks.map((ids) => putCbor(store, { ids }))),
    metadata: [],
    ...overrides,
  });
}

async function rejects(promise: Promise<unknown>, name: string) {
  await promise.then(
    () => expect.fail(`expected ${name}`),
    (err) => expect(err.name, err.message).to.equal(name),
  );
}

describe('list payload codec', () => {
  it('round-trips ids across several 1 MiB chunks, with metadata a reader can skip', async () => {
    const store = new MemoryBlockstore();
    const ids = sortedIds(IDS_PER_CHUNK * 2 + 5);
    const first = entryIdToHex(ids.subarray(0, 32));
    const metadata = new Map([[first, { category: 'malware', reason: 'policy §2', tips: ['tip-1'] }]]);
    const encoded = await encodePayload(store, {
      chainId: 31337,
      list: LIST,
      version: 4,
      ids,
      added: 3,
      removed: 1,
      metadata,
    });
    expect(encoded.header.chunks).to.have.length(3);
    expect(encoded.header.metadata).to.have.length(1);
    for await (const { cid, bytes } of store.getAll()) {
      let size = 0;
      for await (const part of bytes) size += part.length;
      expect(size, `${cid}`).to.be.at.most(MAX_BLOCK_BYTES);
    }

    const progress: number[] = [];
    const decoded = await decodePayload(store, encoded.cid, {
      expected: { root: encoded.header.root, count: ids.length / 32, chainId: 31337, list: LIST, version: 4 },
      onProgress: (done) => progress.push(done),
    });
    expect(decoded.ids).to.deep.equal(ids);
    expect(decoded.metadata).to.equal(undefined);
    expect(decoded.header.list).to.equal(LIST.toLowerCase());
    expect([decoded.header.added, decoded.header.removed]).to.deep.equal([3, 1]);
    expect(progress).to.deep.equal([1, 2, 3, 4]);

    const withMetadata = await decodePayload(store, encoded.cid, { metadata: true });
    expect(withMetadata.metadata?.get(first)).to.deep.equal({
      category: 'malware',
      reason: 'policy §2',
      tips: ['tip-1'],
    });
  });

  it('encodes the empty set with the zero root', async () => {
    const store = new MemoryBlockstore();
    const encoded = await encodePayload(store, {
      chainId: 1,
      list: LIST,
      version: 2,
      ids: new Uint8Array(0),
      added: 0,
      removed: 3,
    });
    expect(encoded.header.root).to.deep.equal(new Uint8Array(32));
    const decoded = await decodePayload(store, encoded.cid);
    expect(decoded.ids.length).to.equal(0);
  });

  it('refuses to encode unsorted ids or metadata for a stranger', async () => {
    const store = new MemoryBlockstore();
    const ids = sortedIds(3);
    const reversed = new Uint8Array([...ids.subarray(64), ...ids.subarray(32, 64), ...ids.subarray(0, 32)]);
    await rejects(
      encodePayload(store, { chainId: 1, list: LIST, version: 1, ids: reversed, added: 3, removed: 0 }),
      'PayloadUnsortedError',
    );
    const metadata = new Map([[entryIdToHex(randomBytes(32)), { reason: 'x' }]]);
    await rejects(
      encodePayload(store, { chainId: 1, list: LIST, version: 1, ids, added: 3, removed: 0, metadata }),
      'PayloadMetadataError',
    );
  });

  describe('rejects malformed payloads by name', () => {
    it('unsorted ids, within a chunk and across chunks', async () => {
      const store = new MemoryBlockstore();
      const ids = sortedIds(4);
      const swapped = new Uint8Array([...ids.subarray(32, 64), ...ids.subarray(0, 32), ...ids.subarray(64)]);
      await rejects(decodePayload(store, await header(store, [swapped])), PayloadUnsortedError.name);
      const many = sortedIds(IDS_PER_CHUNK + 1);
      const across = [many.subarray(32), many.subarray(0, 32)];
      await rejects(decodePayload(store, await header(store, across)), PayloadUnsortedError.name);
    });

    it('a chunk that is not full but is not the last', async () => {
      const store = new MemoryBlockstore();
      const many = sortedIds(IDS_PER_CHUNK + 1);
      const early = [many.subarray(0, 64), many.subarray(64)];
      await rejects(decodePayload(store, await header(store, early)), PayloadFormatError.name);
    });

    it('duplicate ids', async () => {
      const store = new MemoryBlockstore();
      const ids = sortedIds(2);
      const duplicated = new Uint8Array([...ids.subarray(0, 32), ...ids.subarray(0, 32), ...ids.subarray(32)]);
      await rejects(decodePayload(store, await header(store, [duplicated])), PayloadDuplicateEntryError.name);
    });

    it('an oversize chunk', async () => {
      const store = new MemoryBlockstore();
      const ids = sortedIds(IDS_PER_CHUNK + 2);
      const [big, last] = [ids.subarray(0, (IDS_PER_CHUNK + 1) * 32), ids.subarray((IDS_PER_CHUNK + 1) * 32)];
      await rejects(decodePayload(store, await header(store, [big, last])), PayloadChunkTooLargeError.name);
    });

    it('a block over 1 MiB', async () => {
      const store = new MemoryBlockstore();
      const cid = await putCbor(store, { format: PAYLOAD_FORMAT, padding: new Uint8Array(MAX_BLOCK_BYTES) });
      await rejects(decodePayload(store, cid), PayloadChunkTooLargeError.name);
    });

    it('a wrong count', async () => {
      const store = new MemoryBlockstore();
      const ids = sortedIds(3);
      await rejects(decodePayload(store, await header(store, [ids], { count: 4 })), PayloadCountMismatchError.name);
      await rejects(decodePayload(store, await header(store, [ids], { count: 2 })), PayloadCountMismatchError.name);
      const good = await header(store, [ids]);
      await rejects(decodePayload(store, good, { expected: { count: 2 } }), PayloadCountMismatchError.name);
    });

    it('a root that does not match the ids, or the chain', async () => {
      const store = new MemoryBlockstore();
      const ids = sortedIds(3);
      await rejects(
        decodePayload(store, await header(store, [ids], { root: randomBytes(32) })),
        PayloadRootMismatchError.name,
      );
      await rejects(
        decodePayload(store, await header(store, [ids]), { expected: { root: randomBytes(32) } }),
        PayloadRootMismatchError.name,
      );
    });

    it('a header for another chain, list or version', async () => {
      const store = new MemoryBlockstore();
      const cid = await header(store, [sortedIds(2)]);
      for (const expected of [{ chainId: 1 }, { list: '0x0000000000000000000000000000000000000001' }, { version: 2 }]) {
        await rejects(decodePayload(store, cid, { expected }), PayloadHeaderMismatchError.name);
      }
    });

    it('a wrong codec', async () => {
      const store = new MemoryBlockstore();
      const bytes = dagCbor.encode({ format: PAYLOAD_FORMAT });
      const rawCid = CID.create(1, raw.code, await sha256.digest(bytes));
      await store.put(rawCid, bytes);
      await rejects(decodePayload(store, rawCid), PayloadCodecError.name);
      const ids = sortedIds(2);
      const rawChunk = CID.create(1, raw.code, await sha256.digest(ids));
      await store.put(rawChunk, ids);
      await rejects(decodePayload(store, await header(store, [ids], { chunks: [rawChunk] })), PayloadCodecError.name);
    });

    it('bytes that are not dag-cbor', async () => {
      const store = new MemoryBlockstore();
      const bytes = new TextEncoder().encode('{"format": "json, not cbor"}');
      const cid = CID.create(1, dagCbor.code, await sha256.digest(bytes));
      await store.put(cid, bytes);
      await rejects(decodePayload(store, cid), PayloadCodecError.name);
    });

    it('a header with a missing or mistyped field, or an unknown format', async () => {
      const store = new MemoryBlockstore();
      const ids = [sortedIds(1)];
      await rejects(decodePayload(store, await header(store, ids, { format: 'other/1' })), PayloadFormatError.name);
      await rejects(decodePayload(store, await header(store, ids, { count: '1' })), PayloadFormatError.name);
      await rejects(
        decodePayload(store, await header(store, ids, { list: 'not an address' })),
        PayloadFormatError.name,
      );
      await rejects(decodePayload(store, await header(store, ids, { chunks: ['bafy'] })), PayloadFormatError.name);
      await rejects(decodePayload(store, await putCbor(store, [1, 2, 3])), PayloadFormatError.name);
    });

    it('a chunk of partial ids', async () => {
      const store = new MemoryBlockstore();
      const ids = sortedIds(2);
      const chunk = await putCbor(store, { ids: ids.subarray(0, 40) });
      await rejects(decodePayload(store, await header(store, [ids], { chunks: [chunk] })), PayloadFormatError.name);
    });

    it('metadata naming an id that is not an entry', async () => {
      const store = new MemoryBlockstore();
      const ids = sortedIds(2);
      const meta = await putCbor(store, { entries: [{ id: randomBytes(32), reason: 'x' }] });
      const cid = await header(store, [ids], { metadata: [meta] });
      expect((await decodePayload(store, cid)).ids).to.deep.equal(ids, 'metadata is skipped unless asked for');
      await rejects(decodePayload(store, cid, { metadata: true }), PayloadMetadataError.name);
    });

    it('a block whose bytes do not hash to its CID', async () => {
      const store = new MemoryBlockstore();
      const good = dagCbor.encode({ format: PAYLOAD_FORMAT });
      const cid = CID.create(1, dagCbor.code, await sha256.digest(good));
      await store.put(cid, dagCbor.encode({ format: 'tampered' }));
      await rejects(decodePayload(store, cid), BlockHashMismatchError.name);
    });
  });
});

describe('isBlockUnavailable', () => {
  it('tells a block that could not be had now from one that arrived wrong', async () => {
    const timeout = await new Promise<unknown>((resolve) => {
      AbortSignal.timeout(1).addEventListener('abort', function (this: AbortSignal) {
        resolve(this.reason);
      });
    });
    expect(isBlockUnavailable(timeout)).to.equal(true);
    expect(isBlockUnavailable(Object.assign(new Error('no peer has it'), { name: 'LoadBlockFailedError' }))).to.equal(
      true,
    );
    expect(
      isBlockUnavailable(new BlockHashMismatchError(CID.createV1(raw.code, await sha256.digest(new Uint8Array([1]))))),
    ).to.equal(false);
    expect(isBlockUnavailable(new PayloadError('bad header'))).to.equal(false);
    expect(isBlockUnavailable('TimeoutError')).to.equal(false);
  });
});
