/**
 * The signed messages nodes exchange with each other and with rating servers:
 * adverts, edge attestations, sightings, reports, verdicts and tips. Each is
 * dag-cbor, signed with the sender's libp2p Ed25519 key under a domain of its
 * own; peer ids travel as multihash bytes (see `PeerIdBytes`). No networking here.
 */
export * from './advert.js';
export { MAX_CID_BYTES, SIGNATURE_BYTES } from './codec.js';
export * from './edge.js';
export * from './errors.js';
export * from './freshness.js';
export * from './peer.js';
export * from './report.js';
export * from './sequence.js';
export * from './sighting.js';
export * from './signing.js';
export * from './tip.js';
export * from './verdict.js';
