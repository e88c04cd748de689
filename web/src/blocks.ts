import type { CID } from 'multiformats/cid';
import * as raw from 'multiformats/codecs/raw';
import { sha256 } from 'multiformats/hashes/sha2';
import { equals } from 'uint8arrays/equals';
import type { Address } from 'viem';
import type { NrpPublicClient } from '../../src/chain/clients.js';
import { getListVersion, type ListVersion } from '../../src/chain/lists.js';
import { type AbortOptions, type BlockSink, type BlockSource, readBlock } from '../../src/lists/blocks.js';
import { type DecodedPayload, decodePayload, expectedOnChain } from '../../src/lists/payload.js';
import { PayloadUnreachableError } from './errors.js';

// Blocks are immutable under their CID, so a block fetched once serves the whole session.
const cache = new Map<string, Uint8Array>();

/**
 * Blocks from the app's server (`/ipfs/<cid>`), which gets them from this computer's IPFS node and its peers.
 * The server is trusted with availability only: `readBlock` and `decodePayload` check every block against its
 * CID, and the payload's root against the chain, here in the browser. A block the server cannot get is a
 * {@link PayloadUnreachableError} with the server's reason.
 */
export const serverBlocks = {
  async get(cid: CID, { signal }: AbortOptions = {}): Promise<Uint8Array> {
    const key = cid.toString();
    const cached = cache.get(key);
    if (cached) return cached;
    let response: Response;
    try {
      response = await fetch(new URL(`ipfs/${key}`, document.baseURI), { signal });
    } catch (error) {
      if ((error as Error).name === 'AbortError') throw error;
      throw new PayloadUnreachableError(`The app’s server (nrp web) cannot be reached to fetch block ${key}.`);
    }
    if (!response.ok) {
      const body = (await response.json().catch(() => ({}))) as { error?: string };
      throw new PayloadUnreachableError(`Block ${key} cannot be fetched: ${body.error ?? `HTTP ${response.status}`}.`);
    }
    const bytes = new Uint8Array(await response.arrayBuffer());
    // Only a block that matches its CID is kept; `readBlock` rejects any other with the reason.
    if (cid.multihash.code === sha256.code && equals((await sha256.digest(bytes)).digest, cid.multihash.digest)) {
      cache.set(key, bytes);
    }
    return bytes;
  },
} satisfies BlockSource;

export interface VerifiedVersion {
  onChain: ListVersion;
  payload: DecodedPayload;
}

/**
 * A published version of a list and its payload, fetched and verified in the browser against what the chain
 * says: every block's hash, the count, the Merkle root, the chain, list and version. Throws a `Payload…Error`
 * on any mismatch, and {@link PayloadUnreachableError} when a block cannot be fetched.
 */
export async function fetchVerifiedVersion(
  client: NrpPublicClient,
  parameters: {
    list: Address;
    version?: bigint;
    metadata?: boolean;
    onProgress?: (done: number, total: number) => void;
    signal?: AbortSignal;
  },
): Promise<VerifiedVersion> {
  const { list, version, metadata = false, onProgress, signal } = parameters;
  const onChain = await getListVersion(client, { list, version, signal });
  const payload = await decodePayload(serverBlocks, onChain.payloadCid, {
    metadata,
    onProgress,
    signal,
    expected: expectedOnChain(onChain, { chainId: client.chain.id, list }),
  });
  return { onChain, payload };
}

/** The blocks of a payload built in the browser, kept until they are sent to the server. */
export class MemoryBlocks implements BlockSink {
  readonly blocks = new Map<string, { cid: CID; bytes: Uint8Array }>();

  put(cid: CID, bytes: Uint8Array): void {
    this.blocks.set(cid.toString(), { cid, bytes });
  }
}

/**
 * Sends the blocks of a payload to the app's server, which checks each against its CID, stores it in this
 * computer's IPFS node, and then pins the payload under `root`, so that peers can fetch it during the vote.
 */
export async function publishBlocks(
  blocks: MemoryBlocks,
  root: CID,
  { onProgress, signal }: { onProgress?: (done: number, total: number) => void; signal?: AbortSignal } = {},
): Promise<void> {
  const all = [...blocks.blocks.values()];
  let done = 0;
  for (const { cid, bytes } of all) {
    await post(`ipfs/${cid}`, 'application/vnd.ipld.raw', bytes as Uint8Array<ArrayBuffer>, signal);
    onProgress?.(++done, all.length);
  }
  await post(`pins/${root}`, 'application/json', '{}', signal);
}

async function post(path: string, contentType: string, body: BodyInit, signal?: AbortSignal): Promise<void> {
  let response: Response;
  try {
    response = await fetch(new URL(path, document.baseURI), {
      method: 'POST',
      headers: { 'content-type': contentType },
      body,
      signal,
    });
  } catch (error) {
    if ((error as Error).name === 'AbortError') throw error;
    throw new PayloadUnreachableError('The app’s server (nrp web) cannot be reached to store the payload.');
  }
  if (!response.ok) {
    const answer = (await response.json().catch(() => ({}))) as { error?: string };
    throw new PayloadUnreachableError(
      `The app’s server could not store the payload: ${answer.error ?? `HTTP ${response.status}`}.`,
    );
  }
}

/**
 * A policy document by CID, verified against it. Policies are small files, which IPFS stores as one raw block;
 * a larger one is a multi-block UnixFS file, which this app does not assemble, and yields undefined.
 */
export async function fetchPolicyText(cid: CID, options: AbortOptions = {}): Promise<string | undefined> {
  if (cid.code !== raw.code) return undefined;
  const bytes = await readBlock(serverBlocks, cid, options);
  return new TextDecoder().decode(bytes);
}
