import * as dagCbor from '@ipld/dag-cbor';
import { logger } from '@libp2p/logger';
import { multiaddr } from '@multiformats/multiaddr';
import type { CID } from 'multiformats/cid';
import * as raw from 'multiformats/codecs/raw';
import { sha256 } from 'multiformats/hashes/sha2';
import { concat } from 'uint8arrays/concat';
import { equals } from 'uint8arrays/equals';
import type { NrpHelia } from '../ipfs/helia.js';
import { pinRoot } from '../ipfs/pins.js';
import { parseCid as parseAnyCid } from '../lists/entry-id.js';
import { MAX_BLOCK_BYTES } from '../lists/payload.js';
import { HttpApiError } from '../utils/http-api.js';

const log = logger('nrp:web:blocks');

export interface BlockGatewayInit {
  /** Peers to dial again when a block is wanted and none is connected, e.g. the proposer's `nrp ipfs serve`. */
  peers?: readonly string[];
  /** Milliseconds to wait for a peer to send a block, or to fetch what a pin needs. Default 30,000. */
  timeoutMs?: number;
}

export interface BlockGatewayComponents {
  helia: NrpHelia;
}

/**
 * Raw blocks over HTTP for the web app, from this computer's Helia node, which fetches what it lacks from its
 * peers over bitswap. The browser checks every block against its CID and recomputes payload roots itself, so
 * the gateway is trusted with nothing but availability. It also takes the blocks of a payload the app built,
 * each checked against its CID, and pins them, so peers can fetch the payload of a proposal made in the app.
 */
export class BlockGateway {
  readonly #helia: NrpHelia;
  readonly #peers: readonly string[];
  readonly #timeoutMs: number;

  constructor(init: BlockGatewayInit, components: BlockGatewayComponents) {
    this.#helia = components.helia;
    this.#peers = init.peers ?? [];
    this.#timeoutMs = init.timeoutMs ?? 30_000;
  }

  /** The bytes of block `cidText`. Throws HttpApiError: 400 for a bad CID, 504 when no peer sends it in time. */
  async get(cidText: string, { signal }: { signal?: AbortSignal } = {}): Promise<Uint8Array> {
    const cid = parseCid(cidText);
    const blockstore = this.#helia.blockstore;
    if (!(await blockstore.has(cid))) {
      // Helia would wait out the whole timeout with nobody to ask; dial the configured peers again first.
      if (this.#helia.libp2p.getConnections().length === 0) await this.#redial(signal);
      if (this.#helia.libp2p.getConnections().length === 0) {
        throw new HttpApiError(
          `block ${cid} is not on this computer's IPFS node and no IPFS peer is connected: start nrp web with ` +
            '--peer <multiaddr> (or NRP_PEERS) of a node that has it, such as the proposer’s `nrp ipfs serve`',
          504,
        );
      }
    }
    const timeout = AbortSignal.timeout(this.#timeoutMs);
    const parts: Uint8Array[] = [];
    try {
      for await (const part of blockstore.get(cid, { signal: signal ? AbortSignal.any([signal, timeout]) : timeout })) {
        parts.push(part);
      }
    } catch (error) {
      if (!timeout.aborted) throw error;
      const peers = this.#helia.libp2p.getConnections().length;
      log('no peer sent %c within %d ms', cid, this.#timeoutMs);
      throw new HttpApiError(
        `no IPFS peer sent block ${cid} within ${this.#timeoutMs / 1000} s (${peers} ${peers === 1 ? 'peer' : 'peers'} ` +
          'connected): the nodes that pin it may be offline',
        504,
      );
    }
    return parts.length === 1 ? parts[0] : concat(parts);
  }

  /**
   * Stores a block that the app built, after checking that `bytes` hash to `cidText` (sha2-256, dag-cbor or
   * raw, at most 1 MiB, like every payload block).
   */
  async put(cidText: string, bytes: Uint8Array): Promise<CID> {
    const cid = parseCid(cidText);
    if (cid.code !== dagCbor.code && cid.code !== raw.code) {
      throw new HttpApiError(`block ${cid} is neither dag-cbor nor raw, so it is no payload block`);
    }
    if (cid.multihash.code !== sha256.code) throw new HttpApiError(`block ${cid} is not hashed with sha2-256`);
    if (bytes.length > MAX_BLOCK_BYTES)
      throw new HttpApiError(`a block may hold ${MAX_BLOCK_BYTES} bytes at most`, 413);
    const digest = await sha256.digest(bytes);
    if (!equals(digest.digest, cid.multihash.digest)) {
      throw new HttpApiError(`the bytes sent do not hash to ${cid}`);
    }
    await this.#helia.blockstore.put(cid, bytes);
    return cid;
  }

  /** Pins the DAG under `cidText`, fetching any missing block from peers first. */
  async pin(cidText: string): Promise<{ cid: CID; pinned: boolean }> {
    const cid = parseCid(cidText);
    try {
      const pinned = await pinRoot(this.#helia, cid, { signal: AbortSignal.timeout(this.#timeoutMs) });
      return { cid, pinned };
    } catch (error) {
      if ((error as Error).name !== 'TimeoutError' && (error as Error).name !== 'AbortError') throw error;
      throw new HttpApiError(`could not fetch every block under ${cid} within ${this.#timeoutMs / 1000} s`, 504);
    }
  }

  /** This node's identity and where peers reach it, for the app to show. */
  status() {
    const libp2p = this.#helia.libp2p;
    return {
      peerId: libp2p.peerId.toString(),
      addresses: libp2p.getMultiaddrs().map(String),
      connections: libp2p.getConnections().length,
      timeoutMs: this.#timeoutMs,
    };
  }

  async #redial(signal?: AbortSignal): Promise<void> {
    const timeout = AbortSignal.timeout(Math.min(this.#timeoutMs, 5_000));
    const dialSignal = signal ? AbortSignal.any([signal, timeout]) : timeout;
    await Promise.allSettled(
      this.#peers.map((peer) => this.#helia.libp2p.dial(multiaddr(peer), { signal: dialSignal })),
    );
  }
}

function parseCid(text: string): CID {
  try {
    return parseAnyCid(text);
  } catch {
    throw new HttpApiError(`not a CID: ${text}`);
  }
}
