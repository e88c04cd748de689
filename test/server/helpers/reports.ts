import { generateKeyPair } from '@libp2p/crypto/keys';
import type { Ed25519PrivateKey } from '@libp2p/interface';
import { CID } from 'multiformats/cid';
import * as raw from 'multiformats/codecs/raw';
import { sha256 } from 'multiformats/hashes/sha2';
import { entryId } from '../../../src/lists/entry-id.js';
import { MembershipIndex } from '../../../src/lists/membership-index.js';
import { createAdvert } from '../../../src/node/protocol/advert.js';
import {
  completeEdge,
  type EdgeAttestation,
  edgeStatement,
  edgeToValue,
  signEdgeHalf,
} from '../../../src/node/protocol/edge.js';
import { type PeerIdBytes, peerIdBytesOfKey, samePeer } from '../../../src/node/protocol/peer.js';
import { createReport, type Report } from '../../../src/node/protocol/report.js';
import { createSighting, type Sighting, sightingToValue } from '../../../src/node/protocol/sighting.js';
import { SIGNING_DOMAINS, signBody } from '../../../src/node/protocol/signing.js';

/** A fresh Ed25519 key with its peer id bytes. */
export interface TestPeer {
  key: Ed25519PrivateKey;
  id: PeerIdBytes;
}

export async function testPeer(key?: Ed25519PrivateKey): Promise<TestPeer> {
  const k = key ?? (await generateKeyPair('Ed25519'));
  return { key: k, id: peerIdBytesOfKey(k) };
}

/** An edge both ends signed, as two neighbours' edge services produce it. */
export async function signedEdge(x: TestPeer, y: TestPeer, time = Date.now()): Promise<EdgeAttestation> {
  const statement = edgeStatement(x.id, y.id, time);
  const [first, second] = samePeer(statement.a, x.id) ? [x, y] : [y, x];
  return completeEdge(statement, await signEdgeHalf(first.key, statement), await signEdgeHalf(second.key, statement));
}

/** An edge only `x` signed: its other signature is `x`'s too, as a node inventing a neighbour would send it. */
export async function oneSidedEdge(x: TestPeer, y: TestPeer, time = Date.now()): Promise<EdgeAttestation> {
  const statement = edgeStatement(x.id, y.id, time);
  const signature = await signEdgeHalf(x.key, statement);
  return { ...statement, sigA: signature, sigB: signature };
}

/** A raw CID of `text`. */
export async function cidOf(text: string): Promise<CID> {
  return CID.create(1, raw.code, await sha256.digest(new TextEncoder().encode(text)));
}

/** Evidence that `distributor` offered the content `text`: its own signed advert. */
export async function sightingOf(distributor: TestPeer, text: string, time?: number): Promise<Sighting> {
  const advert = await createAdvert(distributor.key, { cid: await cidOf(text), size: text.length, time });
  return createSighting(advert);
}

/** A list holding the entry ids of `texts`, with its `isListed` predicate's input. */
export async function listOf(texts: string[]): Promise<MembershipIndex> {
  const ids = await Promise.all(texts.map(async (text) => entryId(await cidOf(text))));
  ids.sort((x, y) => Buffer.compare(x, y));
  const packed = new Uint8Array(ids.length * 32);
  ids.forEach((id, i) => {
    packed.set(id, i * 32);
  });
  return MembershipIndex.fromSortedIds(packed);
}

/** A report signed by `reporter` with the protocol's own `createReport`, which refuses what servers refuse. */
export async function signedReport(
  reporter: TestPeer,
  fields: { seq: number; time?: number; edges?: EdgeAttestation[]; sightings?: Sighting[] },
): Promise<Report> {
  return createReport(reporter.key, fields);
}

/**
 * A report signed by `signer` without `createReport`'s checks, so tests can build what an honest node never
 * sends: someone else's edges, sightings of itself, another reporter than the signer.
 */
export async function rawReport(
  signer: TestPeer,
  fields: { reporter?: PeerIdBytes; seq: number; time?: number; edges?: EdgeAttestation[]; sightings?: Sighting[] },
): Promise<Report> {
  const body = {
    reporter: fields.reporter ?? signer.id,
    seq: fields.seq,
    time: fields.time ?? Date.now(),
    edges: fields.edges ?? [],
    sightings: fields.sightings ?? [],
  };
  const signature = await signBody(signer.key, SIGNING_DOMAINS.report, {
    ...body,
    edges: body.edges.map(edgeToValue),
    sightings: body.sightings.map(sightingToValue),
  });
  return { ...body, signature };
}
