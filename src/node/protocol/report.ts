import type { PrivateKey } from '@libp2p/interface';
import {
  type CborRecord,
  decodeMessage,
  encodeMessage,
  inContext,
  readArray,
  readBytes,
  readCount,
  readPeer,
  readRecord,
  SIGNATURE_BYTES,
} from './codec.js';
import { type EdgeAttestation, edgeToValue, parseEdge, verifyEdge } from './edge.js';
import { EvidenceMismatchError, SignerMismatchError } from './errors.js';
import { checkFreshness, type FreshnessOptions } from './freshness.js';
import { type PeerIdBytes, type PeerLike, peerIdBytesOfKey, peerIdToString, samePeer, toPeerIdBytes } from './peer.js';
import { parseSighting, type Sighting, sightingToValue, verifySighting } from './sighting.js';
import { checkSignature, SIGNING_DOMAINS, signBody } from './signing.js';

/** Edges in one report at most; a node with more neighbours sends several reports. */
export const MAX_REPORT_EDGES = 1_000;

/** Sightings in one report at most. */
export const MAX_REPORT_SIGHTINGS = 1_000;

/** An encoded report is never larger. */
export const MAX_REPORT_BYTES = 1 << 20;

/** How far ahead of the server's clock a report may be dated by default. */
export const REPORT_MAX_SKEW_MS = 60_000;

/** How old a report may be on arrival by default: it is signed right before it is sent. */
export const REPORT_MAX_AGE_MS = 10 * 60_000;

/** What a node tells a rating server: who its neighbours are, and who sent it listed content. */
export interface Report {
  reporter: PeerIdBytes;
  /** Above every sequence number this reporter used before; servers refuse replays. */
  seq: number;
  time: number;
  /** Attested connections of the reporter; the reporter is an end of each. */
  edges: EdgeAttestation[];
  /** Listed content that neighbours offered; never of the reporter itself. */
  sightings: Sighting[];
  signature: Uint8Array;
}

/** What the caller chooses in a new report; the reporter comes from the key. */
export interface ReportFields {
  seq: number;
  /** Defaults to `Date.now()`. */
  time?: number;
  edges?: EdgeAttestation[];
  sightings?: Sighting[];
}

/** What a server may require of a report besides its own checks. */
export interface VerifyReportOptions extends FreshnessOptions {
  /** The peer the report must come from, e.g. the connection's remote peer. */
  reporter?: PeerLike;
  /** How old an edge may be; `EDGE_MAX_AGE_MS` by default. */
  edgeMaxAgeMs?: number;
  /** How old a sighting's advert may be; `SIGHTING_MAX_AGE_MS` by default. */
  sightingMaxAgeMs?: number;
}

const FIELDS = ['reporter', 'seq', 'time', 'edges', 'sightings', 'signature'] as const;

/**
 * Creates and signs a report as the peer that owns `privateKey`. Throws
 * `MessageTooLargeError` over {@link MAX_REPORT_EDGES}, {@link MAX_REPORT_SIGHTINGS}
 * or {@link MAX_REPORT_BYTES}, and `EvidenceMismatchError` for an edge the
 * reporter is not an end of or a sighting of the reporter itself.
 *
 * @example
 * const report = await createReport(privateKey, { seq: ++lastSeq, edges, sightings });
 * await stream.send(encodeReport(report));
 */
export async function createReport(privateKey: PrivateKey, fields: ReportFields): Promise<Report> {
  const body: Omit<Report, 'signature'> = {
    reporter: peerIdBytesOfKey(privateKey),
    seq: fields.seq,
    time: fields.time ?? Date.now(),
    edges: fields.edges ?? [],
    sightings: fields.sightings ?? [],
  };
  // Validate by the server's rules (size included), so we never sign what it will refuse.
  const report: Report = { ...body, signature: new Uint8Array(SIGNATURE_BYTES) };
  decodeReport(encodeReport(report));
  checkParties(report);
  report.signature = await signBody(privateKey, SIGNING_DOMAINS.report, reportBody(body));
  return report;
}

/** Encodes a report as dag-cbor, at most {@link MAX_REPORT_BYTES}. */
export function encodeReport(report: Report): Uint8Array {
  return encodeMessage({ ...reportBody(report), signature: report.signature }, 'report', MAX_REPORT_BYTES);
}

/** Decodes a report strictly, with every edge and sighting in it, without checking signatures or evidence. */
export function decodeReport(bytes: Uint8Array): Report {
  const what = 'report';
  const record = readRecord(decodeMessage(bytes, what, MAX_REPORT_BYTES), what, FIELDS);
  const edges = readArray(record, 'edges', what, MAX_REPORT_EDGES);
  const sightings = readArray(record, 'sightings', what, MAX_REPORT_SIGHTINGS);
  return {
    reporter: readPeer(record, 'reporter', what),
    seq: readCount(record, 'seq', what),
    time: readCount(record, 'time', what),
    edges: edges.map((edge, i) => parseEdge(edge, `report's edges[${i}]`)),
    sightings: sightings.map((sighting, i) => parseSighting(sighting, `report's sightings[${i}]`)),
    signature: readBytes(record, 'signature', what, SIGNATURE_BYTES),
  };
}

/**
 * Checks a report as a server receives it: the reporter is `options.reporter`
 * (when given), the time is fresh, the reporter's signature verifies, every
 * edge has the reporter as an end and both ends' signatures, and every
 * sighting's evidence holds. Throws the first problem's error, its message
 * naming the edge or sighting. Sequence numbers are the caller's: see `SequenceTracker`.
 *
 * @example
 * const report = decodeReport(bytes);
 * await verifyReport(report, { reporter: connection.remotePeer });
 * tracker.accept(report.reporter, report.seq);
 */
export async function verifyReport(report: Report, options: VerifyReportOptions = {}): Promise<void> {
  if (options.reporter !== undefined) {
    const expected = toPeerIdBytes(options.reporter);
    if (!samePeer(report.reporter, expected)) {
      throw new SignerMismatchError(
        `The report is by ${peerIdToString(report.reporter)}, but came from ${peerIdToString(expected)}`,
      );
    }
  }
  checkFreshness(report.time, 'report', options, { maxSkewMs: REPORT_MAX_SKEW_MS, maxAgeMs: REPORT_MAX_AGE_MS });
  checkParties(report);
  await checkSignature(report.reporter, SIGNING_DOMAINS.report, reportBody(report), report.signature, 'report');
  const now = options.now;
  for (const [i, edge] of report.edges.entries()) {
    await inContext(`edges[${i}]`, () => verifyEdge(edge, { now, maxAgeMs: options.edgeMaxAgeMs }));
  }
  for (const [i, sighting] of report.sightings.entries()) {
    await inContext(`sightings[${i}]`, () => verifySighting(sighting, { now, maxAgeMs: options.sightingMaxAgeMs }));
  }
}

/** A reporter reports its own edges, and sightings of others: anything else is not its evidence to give. */
function checkParties(report: Report): void {
  for (const [i, edge] of report.edges.entries()) {
    if (!samePeer(edge.a, report.reporter) && !samePeer(edge.b, report.reporter)) {
      throw new EvidenceMismatchError(`edges[${i}]: the reporter is not an end of this edge`);
    }
  }
  for (const [i, sighting] of report.sightings.entries()) {
    if (samePeer(sighting.fromPeer, report.reporter)) {
      throw new EvidenceMismatchError(`sightings[${i}]: a reporter cannot report a sighting of itself`);
    }
  }
}

function reportBody(report: Omit<Report, 'signature'>): CborRecord {
  return {
    reporter: report.reporter,
    seq: report.seq,
    time: report.time,
    edges: report.edges.map(edgeToValue),
    sightings: report.sightings.map(sightingToValue),
  };
}
