import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { type Migration, openDatabase, transaction } from '../utils/sqlite.js';

const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    sql: `
      -- Content this node holds and advertises, keyed by CID string.
      CREATE TABLE content (
        cid TEXT PRIMARY KEY,
        size INTEGER NOT NULL,
        name TEXT,
        -- The neighbour it came from, or NULL for content added here.
        from_peer TEXT,
        added_at INTEGER NOT NULL
      );
      -- Signed adverts of listed content: proof that a neighbour offered it.
      CREATE TABLE evidence (
        id INTEGER PRIMARY KEY,
        entry_id BLOB NOT NULL,
        cid TEXT NOT NULL,
        from_peer TEXT NOT NULL,
        advert BLOB NOT NULL,
        seen_at INTEGER NOT NULL,
        UNIQUE (from_peer, cid)
      );
    `,
  },
  {
    version: 2,
    sql: `
      -- Recent content is advertised again to neighbours that join: found without reading the whole table.
      CREATE INDEX content_by_added_at ON content (added_at);
    `,
  },
];

export interface ContentRecord {
  cid: string;
  size: number;
  name?: string;
  /** The neighbour it came from; absent for content added at this node. */
  fromPeer?: string;
  addedAt: number;
}

export interface EvidenceRecord {
  id: number;
  entryId: Uint8Array;
  cid: string;
  fromPeer: string;
  /** The neighbour's signed advert, as it arrived. */
  advert: Uint8Array;
  seenAt: number;
}

function toContent(row: Record<string, unknown>): ContentRecord {
  return {
    cid: row.cid as string,
    size: Number(row.size),
    ...(row.name !== null && { name: row.name as string }),
    ...(row.from_peer !== null && { fromPeer: row.from_peer as string }),
    addedAt: Number(row.added_at),
  };
}

/**
 * What a node keeps on disk besides its blocks: the content it holds and the
 * evidence it collected, in `<dataDir>/node.db`. Every write is committed
 * before the call returns, so a crash loses nothing already recorded.
 */
export class NodeStore {
  readonly #db: DatabaseSync;
  #hasContent?: StatementSync;

  private constructor(db: DatabaseSync) {
    this.#db = db;
  }

  /** Opens the store at `path` (`:memory:` for tests), creating or migrating it. */
  static open(path: string): NodeStore {
    return new NodeStore(openDatabase(path, MIGRATIONS));
  }

  close() {
    this.#db.close();
  }

  recordContent(record: ContentRecord) {
    this.#db
      .prepare('INSERT OR IGNORE INTO content (cid, size, name, from_peer, added_at) VALUES (?, ?, ?, ?, ?)')
      .run(record.cid, record.size, record.name ?? null, record.fromPeer ?? null, record.addedAt);
  }

  /** Asked for every CID an advert first names: prepared once. */
  hasContent(cid: string): boolean {
    this.#hasContent ??= this.#db.prepare('SELECT 1 FROM content WHERE cid = ?');
    return this.#hasContent.get(cid) !== undefined;
  }

  listContent(): ContentRecord[] {
    return this.#db
      .prepare('SELECT cid, size, name, from_peer, added_at FROM content ORDER BY added_at')
      .all()
      .map(toContent);
  }

  /**
   * The newest `limit` items added at or after `since` (ms), oldest first: what a node advertises again to a
   * neighbour that joins. Reads only those rows (an index on `added_at`), however much content the node holds.
   */
  recentContent(since: number, limit: number): ContentRecord[] {
    return this.#db
      .prepare(
        `SELECT * FROM (SELECT cid, size, name, from_peer, added_at FROM content WHERE added_at >= ?
         ORDER BY added_at DESC LIMIT ?) ORDER BY added_at`,
      )
      .all(since, limit)
      .map(toContent);
  }

  countContent(): number {
    return Number((this.#db.prepare('SELECT COUNT(*) AS n FROM content').get() as { n: number }).n);
  }

  removeContent(cids: readonly string[]) {
    const remove = this.#db.prepare('DELETE FROM content WHERE cid = ?');
    transaction(this.#db, () => {
      for (const cid of cids) remove.run(cid);
    });
  }

  /** Records a sighting's evidence; false if this neighbour's advert of this CID is already on record. */
  addEvidence(evidence: Omit<EvidenceRecord, 'id'>): boolean {
    const result = this.#db
      .prepare('INSERT OR IGNORE INTO evidence (entry_id, cid, from_peer, advert, seen_at) VALUES (?, ?, ?, ?, ?)')
      .run(evidence.entryId, evidence.cid, evidence.fromPeer, evidence.advert, evidence.seenAt);
    return Number(result.changes) > 0;
  }

  countEvidence(): number {
    return Number((this.#db.prepare('SELECT COUNT(*) AS n FROM evidence').get() as { n: number }).n);
  }

  /**
   * Evidence in the order it was collected, optionally only after `afterId` and at most `limit` rows: a reader
   * of a long backlog pages through it, passing the last id it got as the next `afterId`.
   */
  listEvidence(options: { afterId?: number; fromPeer?: string; limit?: number } = {}): EvidenceRecord[] {
    const limit = options.limit ?? -1;
    const rows = options.fromPeer
      ? this.#db
          .prepare('SELECT * FROM evidence WHERE id > ? AND from_peer = ? ORDER BY id LIMIT ?')
          .all(options.afterId ?? 0, options.fromPeer, limit)
      : this.#db.prepare('SELECT * FROM evidence WHERE id > ? ORDER BY id LIMIT ?').all(options.afterId ?? 0, limit);
    return rows.map((row) => ({
      id: Number(row.id),
      entryId: new Uint8Array(row.entry_id as Uint8Array),
      cid: row.cid as string,
      fromPeer: row.from_peer as string,
      advert: new Uint8Array(row.advert as Uint8Array),
      seenAt: Number(row.seen_at),
    }));
  }
}
