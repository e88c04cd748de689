import * as dagCbor from '@ipld/dag-cbor';
import type { PrivateKey } from '@libp2p/interface';
import { equals } from 'uint8arrays/equals';
import {
  type CborRecord,
  checkPeer,
  checkString,
  decodeMessage,
  encodeMessage,
  readArray,
  readBytes,
  readCount,
  readEnum,
  readNumber,
  readPeer,
  readRecord,
  readString,
  SIGNATURE_BYTES,
} from './codec.js';
import { DeltaBaseMismatchError, MessageDecodeError, SignerMismatchError } from './errors.js';
import { checkFreshness, type FreshnessOptions } from './freshness.js';
import {
  comparePeers,
  type PeerIdBytes,
  type PeerLike,
  peerIdBytesOfKey,
  peerIdToString,
  samePeer,
  toPeerIdBytes,
} from './peer.js';
import { checkSignature, SIGNING_DOMAINS, signBody } from './signing.js';

/** The ratings a server gives, from good to bad. */
export const RATINGS = ['white', 'gray', 'black'] as const;

export type Rating = (typeof RATINGS)[number];

/** Verdicts in one snapshot or delta at most. */
export const MAX_VERDICTS = 100_000;

/** An encoded snapshot or delta is never larger. */
export const MAX_VERDICT_SNAPSHOT_BYTES = 16 << 20;

/** A verdict's reason, for the node operator who asks why a peer is penalised. */
export const MAX_VERDICT_REASON_BYTES = 512;

/** Evidence references per verdict at most. */
export const MAX_VERDICT_EVIDENCE = 16;

/** One evidence reference's size at most. */
export const MAX_VERDICT_EVIDENCE_BYTES = 256;

/**
 * How far ahead of the node's clock a snapshot may be dated by default. There
 * is no default age limit: when a server is down, nodes keep its last verdicts
 * until each expires.
 */
export const VERDICT_MAX_SKEW_MS = 60_000;

/** A server's judgement of one peer. */
export interface Verdict {
  peer: PeerIdBytes;
  rating: Rating;
  score: number;
  /** Why, in words, for the operator. */
  reason: string;
  /** References to the evidence (report or sighting ids, CIDs), at most {@link MAX_VERDICT_EVIDENCE}. */
  evidence: string[];
  /** When nodes stop applying it, in ms since the epoch; never before the snapshot's `issuedAt`. */
  expiresAt: number;
}

/** Every verdict of a server at one sequence number, without a signature: what a node keeps. */
export interface VerdictState {
  server: PeerIdBytes;
  seq: number;
  issuedAt: number;
  /** Sorted by peer id bytes, one per peer. */
  verdicts: Verdict[];
}

/** A server's signed verdicts at one sequence number. */
export interface VerdictSnapshot extends VerdictState {
  signature: Uint8Array;
}

/** The changes from snapshot `baseSeq` to snapshot `seq`, signed by the server. */
export interface VerdictDelta {
  server: PeerIdBytes;
  seq: number;
  /** The sequence number of the state this delta applies to; below `seq`. */
  baseSeq: number;
  issuedAt: number;
  /** New and changed verdicts, sorted by peer. */
  set: Verdict[];
  /** Peers whose verdicts are withdrawn, sorted; none of them in `set`. */
  removed: PeerIdBytes[];
  signature: Uint8Array;
}

/** What the server chooses in a new snapshot; the server id comes from the key. Verdicts may be in any order. */
export interface VerdictSnapshotFields {
  seq: number;
  /** Defaults to `Date.now()`. */
  issuedAt?: number;
  verdicts: Verdict[];
}

/** What the server chooses in a new delta; see {@link diffVerdicts}. */
export interface VerdictDeltaFields {
  seq: number;
  baseSeq: number;
  issuedAt?: number;
  set: Verdict[];
  removed: PeerIdBytes[];
}

/** Checks of a snapshot or delta besides its signature. */
export interface VerifyVerdictOptions extends FreshnessOptions {
  /** The server's peer id as active in the registry: a verdict signed by any other key is refused. */
  server: PeerLike;
}

const VERDICT_FIELDS = ['peer', 'rating', 'score', 'reason', 'evidence', 'expiresAt'] as const;
const SNAPSHOT_FIELDS = ['server', 'seq', 'issuedAt', 'verdicts', 'signature'] as const;
const DELTA_FIELDS = ['server', 'seq', 'baseSeq', 'issuedAt', 'set', 'removed', 'signature'] as const;

/**
 * Creates and signs a snapshot as the server that owns `privateKey`, sorting
 * the verdicts by peer. Throws `MessageDecodeError` if a peer has two verdicts.
 *
 * @example
 * const snapshot = await createVerdictSnapshot(serverKey, { seq: 42, verdicts });
 * publish(encodeVerdictSnapshot(snapshot));
 */
export async function createVerdictSnapshot(
  privateKey: PrivateKey,
  fields: VerdictSnapshotFields,
): Promise<VerdictSnapshot> {
  const body: VerdictState = {
    server: peerIdBytesOfKey(privateKey),
    seq: fields.seq,
    issuedAt: fields.issuedAt ?? Date.now(),
    verdicts: [...fields.verdicts].sort(byPeer),
  };
  const snapshot: VerdictSnapshot = { ...body, signature: new Uint8Array(SIGNATURE_BYTES) };
  decodeVerdictSnapshot(encodeVerdictSnapshot(snapshot));
  snapshot.signature = await signBody(privateKey, SIGNING_DOMAINS.verdictSnapshot, snapshotBody(body));
  return snapshot;
}

/** Encodes a snapshot as dag-cbor, at most {@link MAX_VERDICT_SNAPSHOT_BYTES}. */
export function encodeVerdictSnapshot(snapshot: VerdictSnapshot): Uint8Array {
  const value = { ...snapshotBody(snapshot), signature: snapshot.signature };
  return encodeMessage(value, 'verdict snapshot', MAX_VERDICT_SNAPSHOT_BYTES);
}

/** Decodes a snapshot strictly, without checking its signature. */
export function decodeVerdictSnapshot(bytes: Uint8Array): VerdictSnapshot {
  const what = 'verdict snapshot';
  const record = readRecord(decodeMessage(bytes, what, MAX_VERDICT_SNAPSHOT_BYTES), what, SNAPSHOT_FIELDS);
  const issuedAt = readCount(record, 'issuedAt', what);
  return {
    server: readPeer(record, 'server', what),
    seq: readCount(record, 'seq', what),
    issuedAt,
    verdicts: parseVerdicts(readArray(record, 'verdicts', what, MAX_VERDICTS), issuedAt, `${what}'s verdicts`),
    signature: readBytes(record, 'signature', what, SIGNATURE_BYTES),
  };
}

/**
 * Checks a snapshot: it is from `options.server` (the key active in the
 * registry), signed by it, and not dated in the future. Age is unbounded by
 * default (set `maxAgeMs` to bound it); each verdict carries its own expiry.
 *
 * @example
 * const snapshot = decodeVerdictSnapshot(bytes);
 * await verifyVerdictSnapshot(snapshot, { server: registration.peerId });
 * tracker.accept(snapshot.server, snapshot.seq);
 */
export async function verifyVerdictSnapshot(snapshot: VerdictSnapshot, options: VerifyVerdictOptions): Promise<void> {
  checkServer(snapshot.server, options.server, 'verdict snapshot');
  checkFreshness(snapshot.issuedAt, 'verdict snapshot', options, {
    maxSkewMs: VERDICT_MAX_SKEW_MS,
    maxAgeMs: Number.POSITIVE_INFINITY,
  });
  await checkSignature(
    snapshot.server,
    SIGNING_DOMAINS.verdictSnapshot,
    snapshotBody(snapshot),
    snapshot.signature,
    'verdict snapshot',
  );
}

/**
 * Creates and signs a delta as the server that owns `privateKey`, sorting
 * `set` and `removed`.
 *
 * @example
 * const delta = await createVerdictDelta(serverKey, { seq: 43, baseSeq: 42, ...diffVerdicts(before, after) });
 */
export async function createVerdictDelta(privateKey: PrivateKey, fields: VerdictDeltaFields): Promise<VerdictDelta> {
  const body: Omit<VerdictDelta, 'signature'> = {
    server: peerIdBytesOfKey(privateKey),
    seq: fields.seq,
    baseSeq: fields.baseSeq,
    issuedAt: fields.issuedAt ?? Date.now(),
    set: [...fields.set].sort(byPeer),
    removed: [...fields.removed].sort(comparePeers),
  };
  const delta: VerdictDelta = { ...body, signature: new Uint8Array(SIGNATURE_BYTES) };
  decodeVerdictDelta(encodeVerdictDelta(delta));
  delta.signature = await signBody(privateKey, SIGNING_DOMAINS.verdictDelta, deltaBody(body));
  return delta;
}

/** Encodes a delta as dag-cbor. */
export function encodeVerdictDelta(delta: VerdictDelta): Uint8Array {
  return encodeMessage(
    { ...deltaBody(delta), signature: delta.signature },
    'verdict delta',
    MAX_VERDICT_SNAPSHOT_BYTES,
  );
}

/** Decodes a delta strictly, without checking its signature. */
export function decodeVerdictDelta(bytes: Uint8Array): VerdictDelta {
  const what = 'verdict delta';
  const record = readRecord(decodeMessage(bytes, what, MAX_VERDICT_SNAPSHOT_BYTES), what, DELTA_FIELDS);
  const issuedAt = readCount(record, 'issuedAt', what);
  const seq = readCount(record, 'seq', what);
  const baseSeq = readCount(record, 'baseSeq', what);
  if (baseSeq >= seq) throw new MessageDecodeError(`The ${what}'s "baseSeq" must be below its "seq"`);
  const set = parseVerdicts(readArray(record, 'set', what, MAX_VERDICTS), issuedAt, `${what}'s set`);
  const removed = readArray(record, 'removed', what, MAX_VERDICTS).map((peer, i) =>
    checkPeer(peer, `${what}'s removed[${i}]`),
  );
  checkAscending(removed, (peer) => peer, `${what}'s removed`);
  // Both lists are sorted: one merge pass finds a peer that is in both.
  for (let i = 0, j = 0; i < set.length && j < removed.length; ) {
    const order = comparePeers(set[i].peer, removed[j]);
    if (order === 0) throw new MessageDecodeError(`The ${what} both sets and removes ${peerIdToString(removed[j])}`);
    if (order < 0) i++;
    else j++;
  }
  return {
    server: readPeer(record, 'server', what),
    seq,
    baseSeq,
    issuedAt,
    set,
    removed,
    signature: readBytes(record, 'signature', what, SIGNATURE_BYTES),
  };
}

/** Checks a delta like {@link verifyVerdictSnapshot} checks a snapshot. */
export async function verifyVerdictDelta(delta: VerdictDelta, options: VerifyVerdictOptions): Promise<void> {
  checkServer(delta.server, options.server, 'verdict delta');
  checkFreshness(delta.issuedAt, 'verdict delta', options, {
    maxSkewMs: VERDICT_MAX_SKEW_MS,
    maxAgeMs: Number.POSITIVE_INFINITY,
  });
  await checkSignature(delta.server, SIGNING_DOMAINS.verdictDelta, deltaBody(delta), delta.signature, 'verdict delta');
}

/**
 * The state after a verified delta: `state`'s verdicts with `set` put in and
 * `removed` taken out. Throws {@link DeltaBaseMismatchError} unless the delta is
 * from the same server and starts at `state.seq`; then fetch a snapshot instead.
 *
 * @example
 * state = applyVerdictDelta(state, delta);
 */
export function applyVerdictDelta(state: VerdictState, delta: VerdictDelta): VerdictState {
  if (!samePeer(state.server, delta.server)) {
    throw new DeltaBaseMismatchError(
      `The delta is from ${peerIdToString(delta.server)}, not from ${peerIdToString(state.server)}`,
    );
  }
  if (delta.baseSeq !== state.seq) {
    throw new DeltaBaseMismatchError(`The delta goes from seq ${delta.baseSeq}, but the state is at seq ${state.seq}`);
  }
  // All three lists are sorted by peer: one merge pass keeps the result sorted.
  const { set, removed } = delta;
  const verdicts: Verdict[] = [];
  let s = 0;
  let r = 0;
  for (const verdict of state.verdicts) {
    while (s < set.length && comparePeers(set[s].peer, verdict.peer) < 0) verdicts.push(set[s++]);
    while (r < removed.length && comparePeers(removed[r], verdict.peer) < 0) r++;
    if (s < set.length && comparePeers(set[s].peer, verdict.peer) === 0) verdicts.push(set[s++]);
    else if (r === removed.length || comparePeers(removed[r], verdict.peer) !== 0) verdicts.push(verdict);
  }
  while (s < set.length) verdicts.push(set[s++]);
  return { server: state.server, seq: delta.seq, issuedAt: delta.issuedAt, verdicts };
}

/**
 * What changed from `before` to `after`: the new or different verdicts, and
 * the peers that no longer have one. A server builds deltas with it.
 */
export function diffVerdicts(before: Verdict[], after: Verdict[]): { set: Verdict[]; removed: PeerIdBytes[] } {
  const old = [...before].sort(byPeer);
  const set: Verdict[] = [];
  const removed: PeerIdBytes[] = [];
  let i = 0;
  for (const verdict of [...after].sort(byPeer)) {
    while (i < old.length && comparePeers(old[i].peer, verdict.peer) < 0) removed.push(old[i++].peer);
    if (i < old.length && comparePeers(old[i].peer, verdict.peer) === 0) {
      if (!sameVerdict(old[i++], verdict)) set.push(verdict);
    } else {
      set.push(verdict);
    }
  }
  while (i < old.length) removed.push(old[i++].peer);
  return { set, removed };
}

/** A snapshot's verdict for `peer`, if it has one; verdicts are sorted, so this bisects. */
export function findVerdict(state: VerdictState, peer: PeerLike): Verdict | undefined {
  const key = toPeerIdBytes(peer);
  let low = 0;
  let high = state.verdicts.length - 1;
  while (low <= high) {
    const mid = (low + high) >>> 1;
    const order = comparePeers(state.verdicts[mid].peer, key);
    if (order === 0) return state.verdicts[mid];
    if (order < 0) low = mid + 1;
    else high = mid - 1;
  }
  return undefined;
}

function checkServer(server: PeerIdBytes, expected: PeerLike, what: string): void {
  const peer = toPeerIdBytes(expected);
  if (!samePeer(server, peer)) {
    throw new SignerMismatchError(
      `The ${what} is from ${peerIdToString(server)}, not from the registered server ${peerIdToString(peer)}`,
    );
  }
}

function parseVerdicts(values: unknown[], issuedAt: number, what: string): Verdict[] {
  const verdicts = values.map((value, i) => parseVerdict(value, issuedAt, `${what}[${i}]`));
  checkAscending(verdicts, (verdict) => verdict.peer, what);
  return verdicts;
}

/** One verdict per peer, in peer order, so an encoding is canonical and lookups can bisect. */
function checkAscending<T>(items: T[], peerOf: (item: T) => PeerIdBytes, what: string): void {
  for (let i = 1; i < items.length; i++) {
    if (comparePeers(peerOf(items[i - 1]), peerOf(items[i])) >= 0) {
      throw new MessageDecodeError(`The ${what} must be sorted by peer id with no peer twice (at ${i})`);
    }
  }
}

function parseVerdict(value: unknown, issuedAt: number, what: string): Verdict {
  const record = readRecord(value, what, VERDICT_FIELDS);
  const evidence = readArray(record, 'evidence', what, MAX_VERDICT_EVIDENCE).map((ref, i) =>
    checkString(ref, `${what}'s evidence[${i}]`, MAX_VERDICT_EVIDENCE_BYTES, true),
  );
  const verdict: Verdict = {
    peer: readPeer(record, 'peer', what),
    rating: readEnum(record, 'rating', what, RATINGS),
    score: readNumber(record, 'score', what),
    reason: readString(record, 'reason', what, MAX_VERDICT_REASON_BYTES),
    evidence,
    expiresAt: readCount(record, 'expiresAt', what),
  };
  if (verdict.expiresAt < issuedAt) throw new MessageDecodeError(`The ${what} expires before it is issued`);
  return verdict;
}

function byPeer(x: Verdict, y: Verdict): number {
  return comparePeers(x.peer, y.peer);
}

function sameVerdict(x: Verdict, y: Verdict): boolean {
  return equals(dagCbor.encode(verdictToValue(x)), dagCbor.encode(verdictToValue(y)));
}

function verdictToValue(verdict: Verdict): CborRecord {
  return {
    peer: verdict.peer,
    rating: verdict.rating,
    score: verdict.score,
    reason: verdict.reason,
    evidence: verdict.evidence,
    expiresAt: verdict.expiresAt,
  };
}

function snapshotBody(state: VerdictState): CborRecord {
  return {
    server: state.server,
    seq: state.seq,
    issuedAt: state.issuedAt,
    verdicts: state.verdicts.map(verdictToValue),
  };
}

function deltaBody(delta: Omit<VerdictDelta, 'signature'>): CborRecord {
  return {
    server: delta.server,
    seq: delta.seq,
    baseSeq: delta.baseSeq,
    issuedAt: delta.issuedAt,
    set: delta.set.map(verdictToValue),
    removed: delta.removed,
  };
}
