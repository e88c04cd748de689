import { type Advert, createAdvert } from '../node/protocol/advert.js';
import { type EdgeAttestation, edgeStatement, signEdgeHalf } from '../node/protocol/edge.js';
import { createReport, type Report } from '../node/protocol/report.js';
import { createSighting, type Sighting } from '../node/protocol/sighting.js';
import { SIGNING_DOMAINS, signBody } from '../node/protocol/signing.js';
import type { ContentItem } from './content.js';
import type { VirtualIdentity } from './identities.js';

/** A neighbour offered an item: what a follower keeps as evidence, until its next report. */
export interface Evidence {
  /** The neighbour that sent the advert. */
  from: number;
  item: number;
  /** The advert's time, as its sender signed it. */
  advertTime: number;
}

/** An edge a report carries: the neighbour, and the time of the newest attestation. */
export interface EdgeRef {
  peer: number;
  time: number;
}

/** What a follower reports to a server, before it becomes a signed message (if it does). */
export interface ReportContent {
  reporter: number;
  time: number;
  edges: EdgeRef[];
  sightings: Evidence[];
}

/**
 * Builds the protocol's real signed messages for virtual nodes, with the
 * protocol's own `create…` functions: adverts, edge attestations signed by
 * both ends, reports; and the forgeries of lying reporters. Adverts and edges
 * are cached, since one push reaches many neighbours and one attestation is
 * reported until it is refreshed.
 */
export class MessageFactory {
  readonly #identities: readonly VirtualIdentity[];
  readonly #items: readonly ContentItem[];
  readonly #adverts = new Map<string, Promise<Advert>>();
  readonly #edges = new Map<string, Promise<EdgeAttestation>>();
  /** Signatures made, for the run's statistics. */
  signatures = 0;

  constructor(identities: readonly VirtualIdentity[], items: readonly ContentItem[]) {
    this.#identities = identities;
    this.#items = items;
  }

  /** The advert `sender` signed for `item` at `time`. */
  advert(sender: number, item: number, time: number): Promise<Advert> {
    const key = `${sender}:${item}:${time}`;
    let advert = this.#adverts.get(key);
    if (!advert) {
      const { cid, size } = this.#items[item];
      this.signatures++;
      advert = createAdvert(this.#identities[sender].privateKey, { cid, size, time });
      this.#adverts.set(key, advert);
    }
    return advert;
  }

  /** The attestation of the edge between `x` and `y` at `time`, signed by both ends. */
  edge(x: number, y: number, time: number): Promise<EdgeAttestation> {
    const key = x < y ? `${x}:${y}:${time}` : `${y}:${x}:${time}`;
    let edge = this.#edges.get(key);
    if (!edge) {
      edge = this.#attest(x, y, time);
      this.#edges.set(key, edge);
    }
    return edge;
  }

  async #attest(x: number, y: number, time: number): Promise<EdgeAttestation> {
    const [p, q] = [this.#identities[x], this.#identities[y]];
    const statement = edgeStatement(p.bytes, q.bytes, time);
    const [a, b] = statement.a === p.bytes ? [p, q] : [q, p];
    this.signatures += 2;
    const [sigA, sigB] = await Promise.all([
      signEdgeHalf(a.privateKey, statement),
      signEdgeHalf(b.privateKey, statement),
    ]);
    return { ...statement, sigA, sigB };
  }

  /** The signed report of `content`, as the node's `Reporter` builds it. */
  async report(content: ReportContent, seq: number): Promise<Report> {
    const edges = await Promise.all(content.edges.map((edge) => this.edge(content.reporter, edge.peer, edge.time)));
    const sightings: Sighting[] = await Promise.all(
      content.sightings.map(async (s) => createSighting(await this.advert(s.from, s.item, s.advertTime))),
    );
    this.signatures++;
    return createReport(this.#identities[content.reporter].privateKey, {
      seq,
      time: content.time,
      edges,
      sightings,
    });
  }

  /**
   * A lying report of `liar`: sightings that accuse `accused` of offering `item`, with adverts the liar made
   * up (signed with the liar's key, since it has no other), over the liar's real edges with them; and, for
   * `fakeEdgeWith`, an edge the other end never signed (the liar signs both halves). A real liar can do no
   * better: it cannot sign as anyone else.
   */
  async lie(
    liar: number,
    seq: number,
    time: number,
    options: { accused: { peer: number; edgeTime: number }[]; fakeEdgeWith: number[]; item: number },
  ): Promise<Report> {
    const self = this.#identities[liar];
    const { cid, size } = this.#items[options.item];
    const edges: EdgeAttestation[] = [];
    const sightings: Sighting[] = [];
    const forgeAdvert = async (accused: number): Promise<Advert> => {
      const body = { cid, size, sender: this.#identities[accused].bytes, time: time - 1_000 };
      this.signatures++;
      return { ...body, signature: await signBody(self.privateKey, SIGNING_DOMAINS.advert, body) };
    };
    for (const { peer, edgeTime } of options.accused) {
      edges.push(await this.edge(liar, peer, edgeTime));
      sightings.push(createSighting(await forgeAdvert(peer)));
    }
    for (const peer of options.fakeEdgeWith) {
      const statement = edgeStatement(self.bytes, this.#identities[peer].bytes, time);
      this.signatures++;
      // Its own half is genuine; for the other end's it can only put its own signature again.
      const sig = await signEdgeHalf(self.privateKey, statement);
      edges.push({ ...statement, sigA: sig, sigB: sig });
      sightings.push(createSighting(await forgeAdvert(peer)));
    }
    this.signatures++;
    return createReport(self.privateKey, { seq, time, edges, sightings });
  }

  /** Forgets cached messages older than `before`, which no report can carry any more. */
  prune(before: number): void {
    for (const cache of [this.#adverts, this.#edges] as Map<string, unknown>[]) {
      for (const key of cache.keys()) {
        if (Number(key.slice(key.lastIndexOf(':') + 1)) < before) cache.delete(key);
      }
    }
  }
}
