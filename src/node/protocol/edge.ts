import type { PrivateKey } from '@libp2p/interface';
import {
  type CborRecord,
  decodeMessage,
  encodeMessage,
  readBytes,
  readCount,
  readPeer,
  readRecord,
  SIGNATURE_BYTES,
} from './codec.js';
import { MessageDecodeError, SignerMismatchError } from './errors.js';
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

/** An encoded edge attestation or half is never larger. */
export const MAX_EDGE_BYTES = 512;

/** How far ahead of the verifier's clock an edge may be dated by default. */
export const EDGE_MAX_SKEW_MS = 60_000;

/**
 * How old an edge may be by default. Neighbours re-attest their connection at
 * least this often, so a server's map forgets connections that closed.
 */
export const EDGE_MAX_AGE_MS = 60 * 60_000;

/**
 * "`a` and `b` are connected at `time`", the statement both ends of a
 * connection sign. The ends are in canonical order (`a` < `b` byte-wise), so
 * both peers build the same statement and sign the same bytes.
 */
export interface EdgeStatement {
  a: PeerIdBytes;
  b: PeerIdBytes;
  time: number;
}

/** An edge both ends signed: a server counts it only if both signatures verify. */
export interface EdgeAttestation extends EdgeStatement {
  /** `a`'s signature of the statement. */
  sigA: Uint8Array;
  /** `b`'s signature of the statement. */
  sigB: Uint8Array;
}

/** One end's signature of a statement, as sent to the other end so it can complete the attestation. */
export interface EdgeHalf extends EdgeStatement {
  signer: PeerIdBytes;
  signature: Uint8Array;
}

const STATEMENT_FIELDS = ['a', 'b', 'time'] as const;
const ATTESTATION_FIELDS = [...STATEMENT_FIELDS, 'sigA', 'sigB'] as const;
const HALF_FIELDS = [...STATEMENT_FIELDS, 'signer', 'signature'] as const;

/**
 * The statement that peers `x` and `y` are connected, with its ends in canonical order.
 *
 * @example
 * const statement = edgeStatement(libp2p.peerId, connection.remotePeer);
 */
export function edgeStatement(x: PeerLike, y: PeerLike, time: number = Date.now()): EdgeStatement {
  const [p, q] = [toPeerIdBytes(x), toPeerIdBytes(y)];
  const order = comparePeers(p, q);
  if (order === 0) throw new TypeError('An edge joins two different peers');
  const statement = order < 0 ? { a: p, b: q, time } : { a: q, b: p, time };
  parseStatement(statement, 'edge statement');
  return statement;
}

/**
 * Signs a statement as one of its ends. Throws {@link SignerMismatchError} if
 * the key is neither `a` nor `b`: a peer attests only its own connections.
 *
 * @example
 * const mine = await signEdgeHalf(privateKey, statement);
 */
export async function signEdgeHalf(privateKey: PrivateKey, statement: EdgeStatement): Promise<Uint8Array> {
  parseStatement(statement, 'edge statement');
  const signer = peerIdBytesOfKey(privateKey);
  if (!samePeer(signer, statement.a) && !samePeer(signer, statement.b)) {
    throw new SignerMismatchError(`${peerIdToString(signer)} is not an end of this edge`);
  }
  return signBody(privateKey, SIGNING_DOMAINS.edge, statementBody(statement));
}

/** Signs a statement as one of its ends and packs it to send to the other end. */
export async function createEdgeHalf(privateKey: PrivateKey, statement: EdgeStatement): Promise<EdgeHalf> {
  const signature = await signEdgeHalf(privateKey, statement);
  return { ...statementBody(statement), signer: peerIdBytesOfKey(privateKey), signature };
}

/**
 * Checks a half received from a neighbour: it is signed by `from` (when
 * given), `from` is an end of the edge, the time is fresh, and the signature
 * verifies. The receiver then countersigns with {@link signEdgeHalf}.
 */
export async function verifyEdgeHalf(
  half: EdgeHalf,
  options: FreshnessOptions & { from?: PeerLike } = {},
): Promise<void> {
  if (options.from !== undefined && !samePeer(half.signer, toPeerIdBytes(options.from))) {
    throw new SignerMismatchError(
      `The edge half is signed by ${peerIdToString(half.signer)}, but came from ${peerIdToString(toPeerIdBytes(options.from))}`,
    );
  }
  if (!samePeer(half.signer, half.a) && !samePeer(half.signer, half.b)) {
    throw new SignerMismatchError(`The edge half's signer ${peerIdToString(half.signer)} is not an end of the edge`);
  }
  checkFreshness(half.time, 'edge half', options, { maxSkewMs: EDGE_MAX_SKEW_MS, maxAgeMs: EDGE_MAX_AGE_MS });
  await checkSignature(half.signer, SIGNING_DOMAINS.edge, statementBody(half), half.signature, 'edge half');
}

/**
 * Joins both ends' signatures into an attestation, checking both, so a node
 * never reports an edge the server would refuse. Throws `BadSignatureError`.
 *
 * @example
 * const edge = await completeEdge(statement, sigA, sigB);
 */
export async function completeEdge(
  statement: EdgeStatement,
  sigA: Uint8Array,
  sigB: Uint8Array,
): Promise<EdgeAttestation> {
  const edge: EdgeAttestation = { ...statementBody(statement), sigA, sigB };
  parseEdge(edgeToValue(edge));
  await checkBothSignatures(edge);
  return edge;
}

/**
 * Checks an attestation: both ends signed the same statement, and its time is
 * fresh (by default at most {@link EDGE_MAX_AGE_MS} old). Throws
 * `BadSignatureError` naming the end whose signature fails, or `StaleMessageError`.
 *
 * @example
 * await verifyEdge(edge, { now: report.time });
 */
export async function verifyEdge(edge: EdgeAttestation, options: FreshnessOptions = {}): Promise<void> {
  checkFreshness(edge.time, 'edge', options, { maxSkewMs: EDGE_MAX_SKEW_MS, maxAgeMs: EDGE_MAX_AGE_MS });
  await checkBothSignatures(edge);
}

/** Encodes an attestation as dag-cbor. */
export function encodeEdge(edge: EdgeAttestation): Uint8Array {
  return encodeMessage(edgeToValue(edge), 'edge', MAX_EDGE_BYTES);
}

/** Decodes an attestation strictly, without checking its signatures. */
export function decodeEdge(bytes: Uint8Array): EdgeAttestation {
  return parseEdge(decodeMessage(bytes, 'edge', MAX_EDGE_BYTES));
}

/** Encodes a half as dag-cbor. */
export function encodeEdgeHalf(half: EdgeHalf): Uint8Array {
  const value = { ...statementBody(half), signer: half.signer, signature: half.signature };
  return encodeMessage(value, 'edge half', MAX_EDGE_BYTES);
}

/** Decodes a half strictly, without checking its signature. */
export function decodeEdgeHalf(bytes: Uint8Array): EdgeHalf {
  const what = 'edge half';
  const record = readRecord(decodeMessage(bytes, what, MAX_EDGE_BYTES), what, HALF_FIELDS);
  return {
    ...parseStatement(record, what),
    signer: readPeer(record, 'signer', what),
    signature: readBytes(record, 'signature', what, SIGNATURE_BYTES),
  };
}

/** The dag-cbor value of an attestation, also used inside reports. */
export function edgeToValue(edge: EdgeAttestation): CborRecord {
  return { ...statementBody(edge), sigA: edge.sigA, sigB: edge.sigB };
}

/** Reads an attestation from a decoded dag-cbor value; `what` names it in errors. */
export function parseEdge(value: unknown, what = 'edge'): EdgeAttestation {
  const record = readRecord(value, what, ATTESTATION_FIELDS);
  return {
    ...parseStatement(record, what),
    sigA: readBytes(record, 'sigA', what, SIGNATURE_BYTES),
    sigB: readBytes(record, 'sigB', what, SIGNATURE_BYTES),
  };
}

/** Reads and checks the statement fields of a record that may have more fields. */
function parseStatement(value: EdgeStatement | CborRecord, what: string): EdgeStatement {
  const record = value as CborRecord;
  const statement = {
    a: readPeer(record, 'a', what),
    b: readPeer(record, 'b', what),
    time: readCount(record, 'time', what),
  };
  // One statement per connection and time: two orders would be two statements, signable separately.
  if (comparePeers(statement.a, statement.b) >= 0) {
    throw new MessageDecodeError(`The ${what}'s ends must be two different peers with "a" < "b"`);
  }
  return statement;
}

async function checkBothSignatures(edge: EdgeAttestation): Promise<void> {
  const body = statementBody(edge);
  await checkSignature(edge.a, SIGNING_DOMAINS.edge, body, edge.sigA, 'edge (end "a")');
  await checkSignature(edge.b, SIGNING_DOMAINS.edge, body, edge.sigB, 'edge (end "b")');
}

function statementBody(statement: EdgeStatement): EdgeStatement {
  return { a: statement.a, b: statement.b, time: statement.time };
}
