/**
 * The workload of `bench:server`, the same in every process that builds it: `nodes` simulated nodes with
 * deterministic keys, each connected to exactly `degree` neighbours, one in `degree` of them distributing
 * listed content, so each report carries `degree` edge attestations and on average one sighting.
 *
 * - Keys: node i's Ed25519 seed is sha256(`nrp-bench-server/<seed>/<i>`).
 * - Topology: the nodes sit on a ring in a seeded random order; each is connected to the `degree / 2` nodes
 *   either side of it. Every edge is attested once (both ends sign `{a, b, time}` at `edgeTime`); Ed25519
 *   signatures are deterministic, so two processes that build the same edge build the same bytes, and the
 *   edge repeats unchanged in both ends' reports of every round, as between re-attestations.
 * - Sightings: the nodes at ring positions divisible by `degree` are distributors; in each round each signs
 *   one advert of listed content, which all its neighbours receive (adverts are broadcast, not forwarded) and
 *   report. A node has 0, 1 or 2 distributor neighbours, 1 on average.
 *
 * Signing goes through the protocol's own functions (`createReport`, `createAdvert`, `signEdgeHalf`) with
 * keys whose `sign` is node:crypto's, about seven times faster than @libp2p/crypto's, so tens of thousands of
 * reports can be signed before the timed phase.
 */
import { createHash, createPrivateKey, createPublicKey, type KeyObject, sign } from 'node:crypto';
import { privateKeyFromRaw } from '@libp2p/crypto/keys';
import type { Ed25519PrivateKey } from '@libp2p/interface';
import { CID } from 'multiformats/cid';
import * as raw from 'multiformats/codecs/raw';
import { create as createDigest } from 'multiformats/hashes/digest';
import { sha256 } from 'multiformats/hashes/sha2';
import { type EntryId, entryId } from '../../src/lists/entry-id.js';
import { type Advert, createAdvert } from '../../src/node/protocol/advert.js';
import { type EdgeAttestation, edgeStatement, signEdgeHalf } from '../../src/node/protocol/edge.js';
import { PEER_ID_BYTES, type PeerIdBytes, samePeer } from '../../src/node/protocol/peer.js';
import { createReport, encodeReport } from '../../src/node/protocol/report.js';
import { createSighting } from '../../src/node/protocol/sighting.js';

/** The DER header of a PKCS#8 Ed25519 private key; the 32-byte seed follows. */
const PKCS8_ED25519 = Buffer.from('302e020100300506032b657004220420', 'hex');
/** The multihash header of an Ed25519 peer id; the 32-byte public key follows. */
const PEER_ID_PREFIX = Uint8Array.of(0x00, 0x24, 0x08, 0x01, 0x12, 0x20);

export interface WorkloadInit {
  nodes: number;
  /** Neighbours per node (even). Default 8. */
  degree?: number;
  /** Entries on the server's list; adverts offer these. Default 1,000. */
  listed?: number;
  seed: string;
  /** When every edge was attested (ms). */
  edgeTime: number;
  /** Round r's adverts are dated `advertTime + r` (ms). */
  advertTime: number;
}

/** A simulated node's keys. */
export interface SimulatedNode {
  index: number;
  id: PeerIdBytes;
  /** A libp2p key whose `sign` uses node:crypto; give it to libp2p as the host's identity. */
  key: Ed25519PrivateKey;
  /** The raw 64 bytes (seed and public key) `privateKeyFromRaw` takes. */
  raw: Uint8Array;
}

export class ServerWorkload {
  readonly nodes: number;
  readonly degree: number;
  readonly listed: number;
  readonly #init: WorkloadInit;
  /** Ring position → node, and node → ring position. */
  readonly #at: Int32Array;
  readonly #position: Int32Array;
  readonly #nodes = new Map<number, SimulatedNode>();
  readonly #edges = new Map<string, Promise<EdgeAttestation>>();
  readonly #adverts = new Map<string, Promise<Advert>>();
  #listedCids?: CID[];

  constructor(init: WorkloadInit) {
    this.#init = init;
    this.nodes = init.nodes;
    this.degree = init.degree ?? 8;
    this.listed = init.listed ?? 1_000;
    if (this.degree % 2 !== 0 || this.nodes <= this.degree) throw new Error('need an even degree below the node count');
    this.#at = Int32Array.from({ length: this.nodes }, (_, i) => i);
    // Fisher–Yates with a seeded generator, so every process places the nodes alike.
    let state = seedNumber(init.seed);
    for (let i = this.nodes - 1; i > 0; i--) {
      state = (Math.imul(state, 1_103_515_245) + 12_345) >>> 0;
      const j = state % (i + 1);
      [this.#at[i], this.#at[j]] = [this.#at[j], this.#at[i]];
    }
    this.#position = new Int32Array(this.nodes);
    this.#at.forEach((node, position) => {
      this.#position[node] = position;
    });
  }

  node(index: number): SimulatedNode {
    let node = this.#nodes.get(index);
    if (node === undefined) {
      const seed = createHash('sha256').update(`nrp-bench-server/${this.#init.seed}/${index}`).digest();
      const keyObject = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519, seed]), format: 'der', type: 'pkcs8' });
      const jwk = createPublicKey(keyObject).export({ format: 'jwk' });
      const publicKey = Buffer.from(jwk.x as string, 'base64url');
      const raw = new Uint8Array(Buffer.concat([seed, publicKey]));
      const id = new Uint8Array(PEER_ID_BYTES);
      id.set(PEER_ID_PREFIX);
      id.set(publicKey, PEER_ID_PREFIX.length);
      node = { index, id, key: fastKey(privateKeyFromRaw(raw) as Ed25519PrivateKey, keyObject), raw };
      this.#nodes.set(index, node);
    }
    return node;
  }

  /** Node `index`'s neighbours. */
  neighbours(index: number): number[] {
    const position = this.#position[index];
    const result: number[] = [];
    for (let d = 1; d <= this.degree / 2; d++) {
      result.push(this.#at[(position + d) % this.nodes], this.#at[(position - d + this.nodes) % this.nodes]);
    }
    return result;
  }

  isDistributor(index: number): boolean {
    return this.#position[index] % this.degree === 0;
  }

  /** The CIDs of the list's entries. */
  listedCids(): CID[] {
    this.#listedCids ??= Array.from({ length: this.listed }, (_, k) => {
      const digest = createHash('sha256').update(`nrp-bench-server/listed/${k}`).digest();
      return CID.create(1, raw.code, createDigest(sha256.code, digest));
    });
    return this.#listedCids;
  }

  /** The list's entry ids, sorted (`MembershipIndex.fromSortedIds` takes them concatenated). */
  listedIds(): EntryId[] {
    return this.listedCids()
      .map((cid) => entryId(cid))
      .sort((x, y) => Buffer.compare(x, y));
  }

  /** The attestation of the edge between nodes `i` and `j`, both signatures included. */
  edge(i: number, j: number): Promise<EdgeAttestation> {
    const key = i < j ? `${i}-${j}` : `${j}-${i}`;
    let edge = this.#edges.get(key);
    if (edge === undefined) {
      const [x, y] = [this.node(i), this.node(j)];
      const statement = edgeStatement(x.id, y.id, this.#init.edgeTime);
      const [first, second] = samePeer(statement.a, x.id) ? [x, y] : [y, x];
      edge = Promise.all([signEdgeHalf(first.key, statement), signEdgeHalf(second.key, statement)]).then(
        ([sigA, sigB]) => ({ ...statement, sigA, sigB }),
      );
      this.#edges.set(key, edge);
    }
    return edge;
  }

  /** Distributor `d`'s advert of round `round`: listed content, dated `advertTime + round`. */
  advert(d: number, round: number): Promise<Advert> {
    const key = `${d}/${round}`;
    let advert = this.#adverts.get(key);
    if (advert === undefined) {
      const cids = this.listedCids();
      const cid = cids[(Math.floor(this.#position[d] / this.degree) + round) % cids.length];
      advert = createAdvert(this.node(d).key, { cid, size: 1024, time: this.#init.advertTime + round });
      this.#adverts.set(key, advert);
    }
    return advert;
  }

  /**
   * Node `index`'s encoded, signed report of round `round` (sequence number `round + 1`): its edges and the
   * adverts its distributor neighbours sent it that round.
   */
  async report(index: number, round: number, time = Date.now()): Promise<Uint8Array> {
    const neighbours = this.neighbours(index);
    const edges = await Promise.all(neighbours.map((j) => this.edge(index, j)));
    const adverts = await Promise.all(
      neighbours.filter((j) => this.isDistributor(j)).map((j) => this.advert(j, round)),
    );
    const report = await createReport(this.node(index).key, {
      seq: round + 1,
      time,
      edges,
      sightings: adverts.map(createSighting),
    });
    return encodeReport(report);
  }
}

/** `key` with node:crypto's Ed25519 `sign` (the same signature: Ed25519 is deterministic). */
function fastKey(key: Ed25519PrivateKey, keyObject: KeyObject): Ed25519PrivateKey {
  return Object.assign(Object.create(key) as Ed25519PrivateKey, {
    sign: (data: Uint8Array | { subarray(): Uint8Array }) => {
      const bytes = data instanceof Uint8Array ? data : data.subarray();
      return new Uint8Array(sign(null, bytes, keyObject));
    },
  });
}

function seedNumber(seed: string): number {
  return createHash('sha256').update(seed).digest().readUInt32BE(0) || 1;
}
