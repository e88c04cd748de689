import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { ReplayedSequenceError } from '../node/protocol/errors.js';
import { type Migration, openDatabase, transaction } from '../utils/sqlite.js';
import { WalSync } from '../utils/wal-sync.js';

const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    sql: `
      -- Every accepted report as its reporter signed it: the proof of what it claimed.
      CREATE TABLE reports (
        id INTEGER PRIMARY KEY,
        reporter TEXT NOT NULL,
        seq INTEGER NOT NULL,
        time INTEGER NOT NULL,
        received_at INTEGER NOT NULL,
        edges INTEGER NOT NULL,
        sightings INTEGER NOT NULL,
        report BLOB NOT NULL,
        UNIQUE (reporter, seq)
      );
      CREATE INDEX reports_by_received_at ON reports (received_at);
      -- The last sequence number accepted from each reporter, so a replay is refused across restarts.
      CREATE TABLE reporters (
        reporter TEXT PRIMARY KEY,
        last_seq INTEGER NOT NULL,
        last_report_at INTEGER NOT NULL
      );
      -- The newest attestation of each connection, signed by both ends, whoever reported it.
      CREATE TABLE edges (
        a TEXT NOT NULL,
        b TEXT NOT NULL,
        time INTEGER NOT NULL,
        edge BLOB NOT NULL,
        reported_by TEXT NOT NULL,
        received_at INTEGER NOT NULL,
        PRIMARY KEY (a, b)
      ) WITHOUT ROWID;
      CREATE INDEX edges_by_b ON edges (b);
      CREATE INDEX edges_by_time ON edges (time);
      -- Evidence that from_peer offered listed content: its own signed advert, as a reporter received it.
      CREATE TABLE sightings (
        id INTEGER PRIMARY KEY,
        report_id INTEGER NOT NULL REFERENCES reports (id),
        reporter TEXT NOT NULL,
        entry_id BLOB NOT NULL,
        cid TEXT NOT NULL,
        from_peer TEXT NOT NULL,
        advert_time INTEGER NOT NULL,
        advert BLOB NOT NULL,
        UNIQUE (reporter, from_peer, cid, advert_time)
      );
      CREATE INDEX sightings_by_from_peer ON sightings (from_peer);
      CREATE INDEX sightings_by_entry_id ON sightings (entry_id);
      CREATE INDEX sightings_by_report ON sightings (report_id);
      -- Signed tip-offs and the operator's decision on each.
      CREATE TABLE tips (
        id INTEGER PRIMARY KEY,
        sender TEXT NOT NULL,
        cid TEXT NOT NULL,
        category TEXT NOT NULL,
        reason TEXT NOT NULL,
        time INTEGER NOT NULL,
        tip BLOB NOT NULL,
        received_at INTEGER NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'accepted', 'rejected')),
        decided_at INTEGER,
        UNIQUE (sender, cid, time)
      );
      CREATE INDEX tips_by_status ON tips (status, id);
      -- Every verdict snapshot this server signed and published.
      CREATE TABLE verdict_snapshots (
        seq INTEGER PRIMARY KEY,
        issued_at INTEGER NOT NULL,
        snapshot BLOB NOT NULL
      );
    `,
  },
  {
    version: 2,
    sql: `
      -- Tips from the HTTP form carry no libp2p signature: their sender is 'http', their bytes the form as JSON.
      ALTER TABLE tips ADD COLUMN source TEXT NOT NULL DEFAULT 'libp2p' CHECK (source IN ('libp2p', 'http'));
      -- Accepted tips bundled into a list proposal: when, and the proposal's id.
      ALTER TABLE tips ADD COLUMN proposed_at INTEGER;
      ALTER TABLE tips ADD COLUMN proposal TEXT;
      CREATE INDEX tips_by_cid ON tips (cid);
    `,
  },
  {
    version: 3,
    sql: `
      -- The oldest attestation time seen of each edge: the row keeps only the newest attestation, and an edge's
      -- span (where a sighting over it counts, what the dashboard shows) must not restart with the server.
      ALTER TABLE edges ADD COLUMN first_time INTEGER NOT NULL DEFAULT 0;
      UPDATE edges SET first_time = time;
    `,
  },
];

/** An edge attestation a report brings, with its ends as peer id strings. */
export interface NewEdge {
  a: string;
  b: string;
  time: number;
  /** The encoded attestation, both signatures included. */
  attestation: Uint8Array;
}

/** A sighting a report brings. */
export interface NewSighting {
  entryId: Uint8Array;
  cid: string;
  /** The accused neighbour, who signed the advert. */
  fromPeer: string;
  advertTime: number;
  /** The neighbour's encoded, signed advert. */
  advert: Uint8Array;
}

/** Everything a verified report brings, as it is written: all of it, or none. */
export interface NewReport {
  reporter: string;
  seq: number;
  /** The reporter's signed time. */
  time: number;
  /** This server's clock when the report arrived. */
  receivedAt: number;
  /** The signed report as it arrived. */
  bytes: Uint8Array;
  edges: NewEdge[];
  sightings: NewSighting[];
}

export interface StoredReport {
  id: number;
  reporter: string;
  seq: number;
  time: number;
  receivedAt: number;
  /** Number of edges and sightings in it. */
  edges: number;
  sightings: number;
  bytes: Uint8Array;
}

export interface StoredEdge {
  a: string;
  b: string;
  /** The newest attestation's time. */
  time: number;
  /** The oldest attestation's time this store has seen: where the edge's span starts, across restarts. */
  firstTime: number;
  attestation: Uint8Array;
  /** The reporter whose report brought this attestation. */
  reportedBy: string;
  receivedAt: number;
}

export interface StoredSighting extends NewSighting {
  id: number;
  /** The report that brought it: see {@link ServerStore.report}. */
  reportId: number;
  reporter: string;
}

/** A report without its signed bytes: what lists of reports show. */
export type ReportSummary = Omit<StoredReport, 'bytes'>;

/** What {@link ServerStore.addReports} did with each report. */
export type AddReportResult = { status: 'stored'; id: number } | { status: 'replayed'; lastSeq: number };

export type TipStatus = 'pending' | 'accepted' | 'rejected';

/** How a tip arrived: signed over `/nrp/tip/1.0.0`, or unsigned through the HTTP form. */
export type TipSource = 'libp2p' | 'http';

/** A verified tip-off, as it is written. */
export interface NewTip {
  /** The signer's peer id; `'http'` for a tip from the HTTP form. */
  sender: string;
  cid: string;
  category: string;
  reason: string;
  /** The sender's signed time (for an HTTP tip, when it arrived). */
  time: number;
  /** The signed tip as it arrived (for an HTTP tip, its fields as JSON). */
  bytes: Uint8Array;
  receivedAt: number;
  /** Default `'libp2p'`. */
  source?: TipSource;
}

export interface StoredTip extends NewTip {
  id: number;
  source: TipSource;
  status: TipStatus;
  /** When the operator accepted or rejected it. */
  decidedAt?: number;
  /** When an accepted tip went into a list proposal, and that proposal's id. */
  proposedAt?: number;
  proposal?: string;
}

export interface StoredVerdictSnapshot {
  seq: number;
  issuedAt: number;
  /** The signed snapshot as published. */
  bytes: Uint8Array;
}

export interface ServerStoreStats {
  reports: number;
  reporters: number;
  edges: number;
  sightings: number;
  tips: Record<TipStatus, number>;
  verdictSnapshots: number;
}

/** No tip has this id. */
export class TipNotFoundError extends Error {
  override name = 'TipNotFoundError';
}

/** The tip was already accepted or rejected; a decision is final. */
export class TipAlreadyDecidedError extends Error {
  override name = 'TipAlreadyDecidedError';
}

/** Only accepted tips go into a proposal. */
export class TipNotAcceptedError extends Error {
  override name = 'TipNotAcceptedError';
}

/** The tip is in a list proposal already. */
export class TipAlreadyProposedError extends Error {
  override name = 'TipAlreadyProposedError';
}

/** A verdict snapshot's sequence number is not above the last one issued. */
export class VerdictSequenceError extends Error {
  override name = 'VerdictSequenceError';
}

/**
 * A rating server's storage, in SQLite (`<dataDir>/server.db`, WAL, `synchronous = FULL`): accepted reports
 * with their signed bytes, the newest attestation of every edge, sightings with their signed adverts, each
 * reporter's last sequence number, tip-offs and the verdict snapshots issued.
 *
 * Everything a report brings is written in one transaction with its reporter's new sequence number, and
 * {@link ServerStore.addReports} returns only after the commit, so a server that acknowledges a report after
 * this call never loses it, even on kill -9, and never accepts its replay after a restart. One process at a
 * time writes a store: the intake keeps the sequence numbers in memory too.
 *
 * @example
 * const store = ServerStore.open(join(dataDir, 'server.db'));
 * const [result] = store.addReports([{ reporter, seq, time, receivedAt: Date.now(), bytes, edges, sightings }]);
 * if (result.status === 'replayed') console.warn('already have', result.lastSeq);
 * store.close();
 */
export class ServerStore {
  readonly #db: DatabaseSync;
  /** Syncs the write-ahead log for {@link syncReports}; null for an in-memory database. */
  #walSync?: WalSync | null;
  readonly #statements: Record<
    | 'lastSeq'
    | 'insertReport'
    | 'upsertReporter'
    | 'upsertEdge'
    | 'insertSighting'
    | 'insertTip'
    | 'tipById'
    | 'decideTip'
    | 'lastVerdictSeq'
    | 'insertVerdict',
    StatementSync
  >;

  private constructor(db: DatabaseSync) {
    this.#db = db;
    // Prepared once: a busy intake writes thousands of rows a second.
    this.#statements = {
      lastSeq: db.prepare('SELECT last_seq FROM reporters WHERE reporter = ?'),
      insertReport: db.prepare(
        `INSERT INTO reports (reporter, seq, time, received_at, edges, sightings, report)
         VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`,
      ),
      upsertReporter: db.prepare(
        `INSERT INTO reporters (reporter, last_seq, last_report_at) VALUES (?, ?, ?)
         ON CONFLICT (reporter) DO UPDATE SET last_seq = excluded.last_seq, last_report_at = excluded.last_report_at`,
      ),
      upsertEdge: db.prepare(
        // A newer attestation replaces the row; an older one only moves the edge's first time back.
        `INSERT INTO edges (a, b, time, edge, reported_by, received_at, first_time) VALUES (?, ?, ?, ?, ?, ?, ?3)
         ON CONFLICT (a, b) DO UPDATE SET
           first_time = MIN(edges.first_time, excluded.time),
           time = MAX(edges.time, excluded.time),
           edge = CASE WHEN excluded.time > edges.time THEN excluded.edge ELSE edges.edge END,
           reported_by = CASE WHEN excluded.time > edges.time THEN excluded.reported_by ELSE edges.reported_by END,
           received_at = CASE WHEN excluded.time > edges.time THEN excluded.received_at ELSE edges.received_at END
         WHERE excluded.time > edges.time OR excluded.time < edges.first_time`,
      ),
      insertSighting: db.prepare(
        // Not OR IGNORE, which would also skip NOT NULL violations: only the same evidence twice is skipped.
        `INSERT INTO sightings (report_id, reporter, entry_id, cid, from_peer, advert_time, advert)
         VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (reporter, from_peer, cid, advert_time) DO NOTHING`,
      ),
      insertTip: db.prepare(
        `INSERT INTO tips (sender, cid, category, reason, time, tip, received_at, source)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (sender, cid, time) DO NOTHING RETURNING id`,
      ),
      tipById: db.prepare('SELECT * FROM tips WHERE id = ?'),
      decideTip: db.prepare(
        `UPDATE tips SET status = ?, decided_at = ? WHERE id = ? AND status = 'pending' RETURNING *`,
      ),
      lastVerdictSeq: db.prepare('SELECT MAX(seq) AS seq FROM verdict_snapshots'),
      insertVerdict: db.prepare('INSERT INTO verdict_snapshots (seq, issued_at, snapshot) VALUES (?, ?, ?)'),
    };
  }

  /** Opens the store at `path` (`:memory:` for tests), creating or migrating it. */
  static open(path: string): ServerStore {
    return new ServerStore(openDatabase(path, MIGRATIONS));
  }

  close() {
    this.#walSync?.close();
    this.#db.close();
  }

  // Reports

  /**
   * Writes reports, each with its edges, sightings and its reporter's new sequence number, in one transaction,
   * and returns once it is committed (on disk). A report whose sequence number is not above its reporter's last
   * one is skipped as `replayed`; the others are stored. Throws (and writes nothing) only if the database fails.
   *
   * @example
   * const results = store.addReports(batch); // then, and only then, acknowledge each
   *
   * With `durable: false` the commit does not wait for the disk (`synchronous = NORMAL` for this transaction):
   * the reports survive a crash of this process, not yet a power cut, until {@link syncReports} resolves.
   * A busy intake commits that way and acknowledges after the sync, which runs off the event loop.
   */
  addReports(reports: readonly NewReport[], options: { durable?: boolean } = {}): AddReportResult[] {
    if (reports.length === 0) return [];
    if (options.durable === false) {
      this.#db.exec('PRAGMA synchronous = NORMAL');
      try {
        return this.#addReports(reports);
      } finally {
        this.#db.exec('PRAGMA synchronous = FULL');
      }
    }
    return this.#addReports(reports);
  }

  /**
   * Resolves once every report committed so far is on disk, as if it had been written with `synchronous =
   * FULL`: an fdatasync of the write-ahead log on libuv's thread pool; calls made while one runs share the next.
   *
   * @example
   * const results = store.addReports(batch, { durable: false });
   * await store.syncReports(); // then acknowledge
   */
  syncReports(): Promise<void> {
    if (this.#walSync === undefined) {
      const path = this.#db.location();
      this.#walSync = path === null ? null : new WalSync(path);
    }
    return this.#walSync?.sync() ?? Promise.resolve();
  }

  #addReports(reports: readonly NewReport[]): AddReportResult[] {
    const s = this.#statements;
    return transaction(this.#db, () =>
      reports.map((report): AddReportResult => {
        const last = s.lastSeq.get(report.reporter);
        if (last !== undefined && report.seq <= Number(last.last_seq)) {
          return { status: 'replayed', lastSeq: Number(last.last_seq) };
        }
        const row = s.insertReport.get(
          report.reporter,
          report.seq,
          report.time,
          report.receivedAt,
          report.edges.length,
          report.sightings.length,
          report.bytes,
        );
        const id = Number(row?.id);
        s.upsertReporter.run(report.reporter, report.seq, report.receivedAt);
        for (const edge of report.edges) {
          s.upsertEdge.run(edge.a, edge.b, edge.time, edge.attestation, report.reporter, report.receivedAt);
        }
        for (const sighting of report.sightings) {
          s.insertSighting.run(
            id,
            report.reporter,
            sighting.entryId,
            sighting.cid,
            sighting.fromPeer,
            sighting.advertTime,
            sighting.advert,
          );
        }
        return { status: 'stored', id };
      }),
    );
  }

  /** Writes one report (see {@link addReports}); returns its id. Throws `ReplayedSequenceError` for a replay. */
  addReport(report: NewReport): number {
    const [result] = this.addReports([report]);
    if (result.status === 'replayed') {
      throw new ReplayedSequenceError(
        `Sequence number ${report.seq} from ${report.reporter} is not above the last one accepted, ${result.lastSeq}`,
        report.seq,
        result.lastSeq,
      );
    }
    return result.id;
  }

  /** The last sequence number accepted from `reporter`, if any. */
  lastSeq(reporter: string): number | undefined {
    const row = this.#statements.lastSeq.get(reporter);
    return row && Number(row.last_seq);
  }

  /** Every reporter's last accepted sequence number, to start an intake from. */
  lastSeqs(): Map<string, number> {
    const rows = this.#db.prepare('SELECT reporter, last_seq FROM reporters').all();
    return new Map(rows.map((row) => [row.reporter as string, Number(row.last_seq)]));
  }

  /** The report `seq` of `reporter`, if stored. */
  report(reporter: string, seq: number): StoredReport | undefined {
    const row = this.#db.prepare('SELECT * FROM reports WHERE reporter = ? AND seq = ?').get(reporter, seq);
    return row && toReport(row);
  }

  /** Reports in the order they were stored, optionally of one reporter, after an id, at most `limit`. */
  listReports(options: { reporter?: string; afterId?: number; limit?: number } = {}): StoredReport[] {
    const rows = this.#db
      .prepare(`SELECT * FROM reports WHERE id > ? AND (? IS NULL OR reporter = ?) ORDER BY id LIMIT ?`)
      .all(options.afterId ?? 0, options.reporter ?? null, options.reporter ?? null, options.limit ?? -1);
    return rows.map(toReport);
  }

  /**
   * Reports newest first, without their signed bytes: those with an id below `before` (a page's last id, to
   * read on), optionally of one reporter, at most `limit` (default 50).
   */
  recentReports(options: { before?: number; reporter?: string; limit?: number } = {}): ReportSummary[] {
    const rows = this.#db
      .prepare(
        `SELECT id, reporter, seq, time, received_at, edges, sightings FROM reports
         WHERE id < ? AND (? IS NULL OR reporter = ?) ORDER BY id DESC LIMIT ?`,
      )
      .all(
        options.before ?? Number.MAX_SAFE_INTEGER,
        options.reporter ?? null,
        options.reporter ?? null,
        options.limit ?? 50,
      );
    return rows.map(toReportSummary);
  }

  /** The report with this id, without its signed bytes. */
  reportSummary(id: number): ReportSummary | undefined {
    const row = this.#db
      .prepare('SELECT id, reporter, seq, time, received_at, edges, sightings FROM reports WHERE id = ?')
      .get(id);
    return row && toReportSummary(row);
  }

  /**
   * Deletes reports received before `receivedBefore` that carry no sighting, and returns how many. Their edges
   * stay (an attestation proves itself), as does every report that is the source of some evidence.
   */
  pruneReports(receivedBefore: number): number {
    const result = this.#db
      .prepare(
        `DELETE FROM reports WHERE received_at < ?
         AND NOT EXISTS (SELECT 1 FROM sightings WHERE sightings.report_id = reports.id)`,
      )
      .run(receivedBefore);
    return Number(result.changes);
  }

  // Edges

  /** The newest attestation of each edge, optionally only those dated `since` or later, or with `peer` as an end. */
  listEdges(options: { since?: number; peer?: string } = {}): StoredEdge[] {
    const since = options.since ?? 0;
    const rows =
      options.peer === undefined
        ? this.#db.prepare('SELECT * FROM edges WHERE time >= ? ORDER BY a, b').all(since)
        : this.#db
            .prepare('SELECT * FROM edges WHERE time >= ? AND (a = ? OR b = ?) ORDER BY a, b')
            .all(since, options.peer, options.peer);
    return rows.map((row) => ({
      a: row.a as string,
      b: row.b as string,
      time: Number(row.time),
      firstTime: Number(row.first_time),
      attestation: new Uint8Array(row.edge as Uint8Array),
      reportedBy: row.reported_by as string,
      receivedAt: Number(row.received_at),
    }));
  }

  /**
   * Deletes edges dated before `before` (connections no longer attested); returns how many. Pass a time older
   * than the intake accepts edges (`EDGE_MAX_AGE_MS`): the intake skips writing an attestation it already stored.
   */
  pruneEdges(before: number): number {
    return Number(this.#db.prepare('DELETE FROM edges WHERE time < ?').run(before).changes);
  }

  // Sightings

  /** Sightings in the order they were stored, optionally filtered, after an id, at most `limit`. */
  listSightings(
    options: { afterId?: number; fromPeer?: string; reporter?: string; limit?: number } = {},
  ): StoredSighting[] {
    const rows = this.#db
      .prepare(
        `SELECT * FROM sightings WHERE id > ? AND (? IS NULL OR from_peer = ?) AND (? IS NULL OR reporter = ?)
         ORDER BY id LIMIT ?`,
      )
      .all(
        options.afterId ?? 0,
        options.fromPeer ?? null,
        options.fromPeer ?? null,
        options.reporter ?? null,
        options.reporter ?? null,
        options.limit ?? -1,
      );
    return rows.map(toSighting);
  }

  /** The sighting with this id (the `N` of a verdict's `sighting:N` evidence), if stored. */
  sighting(id: number): StoredSighting | undefined {
    const row = this.#db.prepare('SELECT * FROM sightings WHERE id = ?').get(id);
    return row && toSighting(row);
  }

  // Tips

  /**
   * Records a verified tip as pending. The same signed tip sent twice is recorded once: `duplicate` is then true
   * and `id` is the first one's. HTTP tips have no signature to tell them apart: the same CID, category and
   * reason from the form again (a reload, a second click) is that tip's duplicate.
   */
  addTip(tip: NewTip): { id: number; duplicate: boolean } {
    const source = tip.source ?? 'libp2p';
    if (source === 'http') {
      const same = this.#db
        .prepare(`SELECT id FROM tips WHERE source = 'http' AND cid = ? AND category = ? AND reason = ? LIMIT 1`)
        .get(tip.cid, tip.category, tip.reason);
      if (same) return { id: Number(same.id), duplicate: true };
    }
    const row = this.#statements.insertTip.get(
      tip.sender,
      tip.cid,
      tip.category,
      tip.reason,
      tip.time,
      tip.bytes,
      tip.receivedAt,
      source,
    );
    if (row) return { id: Number(row.id), duplicate: false };
    const existing = this.#db
      .prepare('SELECT id FROM tips WHERE sender = ? AND cid = ? AND time = ?')
      .get(tip.sender, tip.cid, tip.time);
    return { id: Number(existing?.id), duplicate: true };
  }

  tip(id: number): StoredTip | undefined {
    const row = this.#statements.tipById.get(id);
    return row && toTip(row);
  }

  /** Tips by id, optionally of one status, after an id, at most `limit`. */
  listTips(options: { status?: TipStatus; afterId?: number; limit?: number } = {}): StoredTip[] {
    const rows = this.#db
      .prepare('SELECT * FROM tips WHERE id > ? AND (? IS NULL OR status = ?) ORDER BY id LIMIT ?')
      .all(options.afterId ?? 0, options.status ?? null, options.status ?? null, options.limit ?? -1);
    return rows.map(toTip);
  }

  /**
   * Tips newest first: those with an id below `before` (a page's last id, to read on), optionally of one status
   * and proposed or not, at most `limit` (default 100).
   */
  recentTips(options: { status?: TipStatus; proposed?: boolean; before?: number; limit?: number } = {}): StoredTip[] {
    const proposed = options.proposed === undefined ? null : options.proposed ? 1 : 0;
    const rows = this.#db
      .prepare(
        `SELECT * FROM tips WHERE id < ? AND (? IS NULL OR status = ?) AND (? IS NULL OR (proposed_at IS NOT NULL) = ?)
         ORDER BY id DESC LIMIT ?`,
      )
      .all(
        options.before ?? Number.MAX_SAFE_INTEGER,
        options.status ?? null,
        options.status ?? null,
        proposed,
        proposed,
        options.limit ?? 100,
      );
    return rows.map(toTip);
  }

  /** How many tips have `status`. */
  countTips(status: TipStatus): number {
    return Number(this.#db.prepare('SELECT COUNT(*) AS n FROM tips WHERE status = ?').get(status)?.n ?? 0);
  }

  /**
   * Records that accepted tips went into list proposal `proposal`: all of them, or (on any error) none. Throws
   * {@link TipNotFoundError}, {@link TipNotAcceptedError} or {@link TipAlreadyProposedError}.
   *
   * @example
   * store.markTipsProposed([3, 5], proposalId.toString());
   */
  markTipsProposed(ids: readonly number[], proposal: string, now = Date.now()): StoredTip[] {
    return transaction(this.#db, () =>
      ids.map((id) => {
        const row = this.#db
          .prepare(
            `UPDATE tips SET proposed_at = ?, proposal = ? WHERE id = ? AND status = 'accepted'
             AND proposed_at IS NULL RETURNING *`,
          )
          .get(now, proposal, id);
        if (row) return toTip(row);
        const existing = this.tip(id);
        if (!existing) throw new TipNotFoundError(`No tip has id ${id}`);
        if (existing.status !== 'accepted') {
          throw new TipNotAcceptedError(`Tip ${id} is ${existing.status}: only accepted tips go into a proposal`);
        }
        throw new TipAlreadyProposedError(`Tip ${id} is in proposal ${existing.proposal} already`);
      }),
    );
  }

  /**
   * Accepts or rejects a pending tip. Throws {@link TipNotFoundError}, or {@link TipAlreadyDecidedError} for a
   * tip already decided: a decision is final.
   *
   * @example
   * const tip = store.decideTip(id, 'accepted');
   */
  decideTip(id: number, status: Exclude<TipStatus, 'pending'>, now = Date.now()): StoredTip {
    const row = this.#statements.decideTip.get(status, now, id);
    if (row) return toTip(row);
    const existing = this.tip(id);
    if (!existing) throw new TipNotFoundError(`No tip has id ${id}`);
    throw new TipAlreadyDecidedError(`Tip ${id} was already ${existing.status}`);
  }

  // Verdict snapshots

  /** Records a snapshot this server issued. Throws {@link VerdictSequenceError} unless `seq` is above the last. */
  addVerdictSnapshot(snapshot: StoredVerdictSnapshot) {
    transaction(this.#db, () => {
      const last = this.lastVerdictSeq();
      if (last !== undefined && snapshot.seq <= last) {
        throw new VerdictSequenceError(`Verdict snapshot ${snapshot.seq} is not above the last one issued, ${last}`);
      }
      this.#statements.insertVerdict.run(snapshot.seq, snapshot.issuedAt, snapshot.bytes);
    });
  }

  /** The sequence number of the last snapshot issued, if any. */
  lastVerdictSeq(): number | undefined {
    const seq = this.#statements.lastVerdictSeq.get()?.seq;
    return seq === null || seq === undefined ? undefined : Number(seq);
  }

  /**
   * Deletes all but the newest `keep` verdict snapshots (at least one is always kept), and returns how many it
   * deleted. A node holding a deleted one gets the whole snapshot rather than a delta.
   */
  pruneVerdictSnapshots(keep: number): number {
    const result = this.#db
      .prepare(
        'DELETE FROM verdict_snapshots WHERE seq NOT IN (SELECT seq FROM verdict_snapshots ORDER BY seq DESC LIMIT ?)',
      )
      .run(Math.max(1, Math.floor(keep)));
    return Number(result.changes);
  }

  /** The snapshot `seq`, or the newest one. */
  verdictSnapshot(seq?: number): StoredVerdictSnapshot | undefined {
    const row =
      seq === undefined
        ? this.#db.prepare('SELECT * FROM verdict_snapshots ORDER BY seq DESC LIMIT 1').get()
        : this.#db.prepare('SELECT * FROM verdict_snapshots WHERE seq = ?').get(seq);
    return (
      row && {
        seq: Number(row.seq),
        issuedAt: Number(row.issued_at),
        bytes: new Uint8Array(row.snapshot as Uint8Array),
      }
    );
  }

  /** Row counts, for status pages and tests. */
  stats(): ServerStoreStats {
    const count = (table: string) => Number(this.#db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get()?.n ?? 0);
    const tips: Record<TipStatus, number> = { pending: 0, accepted: 0, rejected: 0 };
    for (const row of this.#db.prepare('SELECT status, COUNT(*) AS n FROM tips GROUP BY status').all()) {
      tips[row.status as TipStatus] = Number(row.n);
    }
    return {
      reports: count('reports'),
      reporters: count('reporters'),
      edges: count('edges'),
      sightings: count('sightings'),
      tips,
      verdictSnapshots: count('verdict_snapshots'),
    };
  }
}

function toReport(row: Record<string, unknown>): StoredReport {
  return { ...toReportSummary(row), bytes: new Uint8Array(row.report as Uint8Array) };
}

function toReportSummary(row: Record<string, unknown>): ReportSummary {
  return {
    id: Number(row.id),
    reporter: row.reporter as string,
    seq: Number(row.seq),
    time: Number(row.time),
    receivedAt: Number(row.received_at),
    edges: Number(row.edges),
    sightings: Number(row.sightings),
  };
}

function toSighting(row: Record<string, unknown>): StoredSighting {
  return {
    id: Number(row.id),
    reportId: Number(row.report_id),
    reporter: row.reporter as string,
    entryId: new Uint8Array(row.entry_id as Uint8Array),
    cid: row.cid as string,
    fromPeer: row.from_peer as string,
    advertTime: Number(row.advert_time),
    advert: new Uint8Array(row.advert as Uint8Array),
  };
}

function toTip(row: Record<string, unknown>): StoredTip {
  return {
    id: Number(row.id),
    sender: row.sender as string,
    cid: row.cid as string,
    category: row.category as string,
    reason: row.reason as string,
    time: Number(row.time),
    bytes: new Uint8Array(row.tip as Uint8Array),
    receivedAt: Number(row.received_at),
    source: row.source as TipSource,
    status: row.status as TipStatus,
    ...(row.decided_at !== null && { decidedAt: Number(row.decided_at) }),
    ...(row.proposed_at !== null && { proposedAt: Number(row.proposed_at), proposal: row.proposal as string }),
  };
}
