import type { DatabaseSync } from 'node:sqlite';
import { type Migration, openDatabase, transaction } from '../utils/sqlite.js';

const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    sql: `
      -- Per rating server: the last sequence number used, and the id of the last evidence row (in node.db)
      -- that a report to it covers.
      CREATE TABLE servers (
        server TEXT PRIMARY KEY,
        last_seq INTEGER NOT NULL,
        evidence_cursor INTEGER NOT NULL
      );
      -- Signed reports the server has not acknowledged yet; they go out in seq order per server.
      CREATE TABLE outbox (
        server TEXT NOT NULL,
        seq INTEGER NOT NULL,
        report BLOB NOT NULL,
        time INTEGER NOT NULL,
        edges INTEGER NOT NULL,
        sightings INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        PRIMARY KEY (server, seq)
      );
    `,
  },
  {
    version: 2,
    sql: `
      -- Sightings of a refused report, to be sent again: those the server refused because its list did not hold
      -- their entry yet (refusals > 0, due at next_attempt_at), and the others of that report (due at once).
      -- in_report is the waiting report that carries one again; its ack settles the row.
      CREATE TABLE held_sightings (
        server TEXT NOT NULL,
        cid TEXT NOT NULL,
        from_peer TEXT NOT NULL,
        sighting BLOB NOT NULL,
        held_since INTEGER NOT NULL,
        refusals INTEGER NOT NULL,
        next_attempt_at INTEGER NOT NULL,
        in_report INTEGER,
        PRIMARY KEY (server, cid, from_peer)
      );
      CREATE INDEX held_sightings_due ON held_sightings (server, next_attempt_at);
    `,
  },
];

/** A report waiting in the outbox. */
export interface OutboxEntry {
  /** The rating server's peer id. */
  server: string;
  seq: number;
  /** The encoded, signed report, as it will be sent. */
  report: Uint8Array;
  /** The report's signed time; a report re-signed before delivery gets a new one. */
  time: number;
  edges: number;
  sightings: number;
  createdAt: number;
  /** Failed deliveries so far. */
  attempts: number;
  /** Not sent again before this time (ms since the epoch); 0 when due at once. */
  nextAttemptAt: number;
  lastError?: string;
}

/** Which sighting: a neighbour's advert of one CID. */
export interface SightingKey {
  cid: string;
  fromPeer: string;
}

/** What a new report adds to the outbox. */
export type NewOutboxEntry = Pick<OutboxEntry, 'server' | 'seq' | 'report' | 'time' | 'edges' | 'sightings'> & {
  /** The id of the last evidence row this report covers (or skipped as unreportable). */
  evidenceCursor: number;
  /** Held sightings this report carries again. */
  held?: readonly SightingKey[];
};

/** A sighting of a refused report, waiting to be sent to its server again. */
export interface HeldSighting extends SightingKey {
  server: string;
  /** The encoded sighting (`encodeSighting`). */
  sighting: Uint8Array;
  /** When it was first held. */
  heldSince: number;
  /** How often the server refused it because its list did not hold the entry. */
  refusals: number;
  /** Not sent again before this time (ms since the epoch). */
  nextAttemptAt: number;
}

/** A sighting of a report that the server refused as unlisted: `refused` if it is the one it named. */
export interface SightingToHold extends SightingKey {
  sighting: Uint8Array;
  refused: boolean;
}

export interface HoldOptions {
  now?: number;
  /** A refused sighting held this long is given up. */
  maxHoldMs: number;
  /** A sighting refused more often than this is given up. */
  maxRefusals: number;
  /** Milliseconds to wait after the `refusals`-th refusal. */
  backoff: (refusals: number) => number;
}

export interface HoldResult {
  /** Refused sightings kept for a later attempt. */
  held: number;
  /** Sightings of the report that were not refused, due again at once. */
  resent: number;
  /** Refused sightings given up, past `maxHoldMs` or `maxRefusals`. */
  dropped: HeldSighting[];
}

/** Per-server progress: the last sequence number used and how far into the evidence reports reach. */
export interface ServerProgress {
  lastSeq: number;
  evidenceCursor: number;
}

/** A report's sequence number is not above the last one used for that server: two builds raced. */
export class OutboxSequenceError extends Error {
  override name = 'OutboxSequenceError';
}

/**
 * The reports a node signed but no server acknowledged yet, with each
 * server's sequence number and evidence cursor, in SQLite
 * (`<dataDir>/reports.db`). A report, its sequence number and the cursor past
 * the evidence it carries are committed in one transaction, and the report is
 * deleted only on the server's answer, so a crash at any moment neither loses
 * evidence nor sends it twice under two sequence numbers.
 *
 * @example
 * const outbox = ReportOutbox.open(join(dataDir, 'reports.db'));
 * outbox.enqueue({ server, seq, report: encodeReport(report), time, edges: 3, sightings: 1, evidenceCursor: 42 });
 * const next = outbox.head(server);
 */
export class ReportOutbox {
  readonly #db: DatabaseSync;

  private constructor(db: DatabaseSync) {
    this.#db = db;
  }

  /** Opens the outbox at `path` (`:memory:` for tests), creating or migrating it. */
  static open(path: string): ReportOutbox {
    return new ReportOutbox(openDatabase(path, MIGRATIONS));
  }

  close() {
    this.#db.close();
  }

  /** The server's progress, or undefined if no report to it was ever queued. */
  progress(server: string): ServerProgress | undefined {
    const row = this.#db.prepare('SELECT last_seq, evidence_cursor FROM servers WHERE server = ?').get(server);
    return row && { lastSeq: Number(row.last_seq), evidenceCursor: Number(row.evidence_cursor) };
  }

  /**
   * Queues a report and makes its sequence number the server's last and its cursor the server's evidence
   * cursor, all or nothing. Throws {@link OutboxSequenceError} unless `seq` is above the last one.
   */
  enqueue(entry: NewOutboxEntry, now = Date.now()) {
    transaction(this.#db, () => {
      const progress = this.progress(entry.server);
      if (progress && entry.seq <= progress.lastSeq) {
        throw new OutboxSequenceError(
          `Sequence number ${entry.seq} for ${entry.server} is not above the last one used, ${progress.lastSeq}`,
        );
      }
      this.#db
        .prepare(
          `INSERT INTO servers (server, last_seq, evidence_cursor) VALUES (?, ?, ?)
           ON CONFLICT (server) DO UPDATE SET last_seq = excluded.last_seq,
             evidence_cursor = MAX(evidence_cursor, excluded.evidence_cursor)`,
        )
        .run(entry.server, entry.seq, entry.evidenceCursor);
      this.#db
        .prepare(
          `INSERT INTO outbox (server, seq, report, time, edges, sightings, created_at)
           VALUES (?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(entry.server, entry.seq, entry.report, entry.time, entry.edges, entry.sightings, now);
      const carry = this.#db.prepare(
        'UPDATE held_sightings SET in_report = ? WHERE server = ? AND cid = ? AND from_peer = ?',
      );
      for (const key of entry.held ?? []) carry.run(entry.seq, entry.server, key.cid, key.fromPeer);
    });
  }

  /**
   * Moves the server's evidence cursor forward without a report, past evidence that is not for this server.
   * Only for a server that has progress already (a report was queued for it before).
   */
  advanceCursor(server: string, evidenceCursor: number) {
    this.#db
      .prepare('UPDATE servers SET evidence_cursor = MAX(evidence_cursor, ?) WHERE server = ?')
      .run(evidenceCursor, server);
  }

  /** Deletes a report the server answered, and settles the held sightings it carried (sent, or refused for good). */
  settle(server: string, seq: number) {
    transaction(this.#db, () => {
      this.remove(server, seq);
      this.#db.prepare('DELETE FROM held_sightings WHERE server = ? AND in_report = ?').run(server, seq);
    });
  }

  /**
   * Deletes a report the server refused because its list did not hold an entry yet, and keeps its sightings
   * to send again: the refused ones after a backoff, unless held too long or refused too often (then they
   * are given up), the others at once. All or nothing.
   */
  hold(server: string, seq: number, sightings: readonly SightingToHold[], options: HoldOptions): HoldResult {
    const now = options.now ?? Date.now();
    const result: HoldResult = { held: 0, resent: 0, dropped: [] };
    transaction(this.#db, () => {
      this.remove(server, seq);
      const find = this.#db.prepare('SELECT * FROM held_sightings WHERE server = ? AND cid = ? AND from_peer = ?');
      const upsert = this.#db.prepare(
        `INSERT INTO held_sightings (server, cid, from_peer, sighting, held_since, refusals, next_attempt_at)
         VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (server, cid, from_peer) DO UPDATE SET sighting = excluded.sighting,
           refusals = excluded.refusals, next_attempt_at = excluded.next_attempt_at, in_report = NULL`,
      );
      const drop = this.#db.prepare('DELETE FROM held_sightings WHERE server = ? AND cid = ? AND from_peer = ?');
      for (const item of sightings) {
        const row = find.get(server, item.cid, item.fromPeer);
        const before = row ? toHeld(row) : undefined;
        const heldSince = before?.heldSince ?? now;
        const refusals = (before?.refusals ?? 0) + (item.refused ? 1 : 0);
        if (item.refused && (refusals > options.maxRefusals || now - heldSince >= options.maxHoldMs)) {
          drop.run(server, item.cid, item.fromPeer);
          result.dropped.push({ ...item, server, heldSince, refusals, nextAttemptAt: 0 });
          continue;
        }
        const nextAttemptAt = item.refused ? now + options.backoff(refusals) : 0;
        upsert.run(server, item.cid, item.fromPeer, item.sighting, heldSince, refusals, nextAttemptAt);
        if (item.refused) result.held++;
        else result.resent++;
      }
      // Carried by this report but left out of what was sent (too old by then): nothing more to do for them.
      this.#db.prepare('DELETE FROM held_sightings WHERE server = ? AND in_report = ?').run(server, seq);
    });
    return result;
  }

  /** Held sightings of `server` due by `now` and not in a waiting report, the longest held first. */
  dueHeld(server: string, now: number, limit: number): HeldSighting[] {
    return this.#db
      .prepare(
        `SELECT * FROM held_sightings WHERE server = ? AND in_report IS NULL AND next_attempt_at <= ?
         ORDER BY held_since, cid LIMIT ?`,
      )
      .all(server, now, limit)
      .map(toHeld);
  }

  /** Gives up a held sighting (it cannot be reported any more). */
  dropHeld(server: string, key: SightingKey) {
    this.#db
      .prepare('DELETE FROM held_sightings WHERE server = ? AND cid = ? AND from_peer = ?')
      .run(server, key.cid, key.fromPeer);
  }

  /** Every held sighting, by server and age. */
  listHeld(): HeldSighting[] {
    return this.#db.prepare('SELECT * FROM held_sightings ORDER BY server, held_since, cid').all().map(toHeld);
  }

  /** The server's waiting report with the lowest sequence number: the only one that may be sent. */
  head(server: string): OutboxEntry | undefined {
    const row = this.#db.prepare('SELECT * FROM outbox WHERE server = ? ORDER BY seq LIMIT 1').get(server);
    return row && toEntry(row);
  }

  /** Every waiting report, by server and sequence number. */
  list(): OutboxEntry[] {
    return this.#db.prepare('SELECT * FROM outbox ORDER BY server, seq').all().map(toEntry);
  }

  /** How many reports wait for `server`. */
  count(server: string): number {
    return Number(this.#db.prepare('SELECT COUNT(*) AS n FROM outbox WHERE server = ?').get(server)?.n ?? 0);
  }

  /** Records a failed delivery; returns the attempts so far. */
  recordFailure(server: string, seq: number, failure: { nextAttemptAt: number; error: string }): number {
    const row = this.#db
      .prepare(
        `UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?, last_error = ?
         WHERE server = ? AND seq = ? RETURNING attempts`,
      )
      .get(failure.nextAttemptAt, failure.error, server, seq);
    return Number(row?.attempts ?? 0);
  }

  /** Makes every waiting report of `server` due now. */
  retryNow(server: string) {
    this.#db.prepare('UPDATE outbox SET next_attempt_at = 0 WHERE server = ?').run(server);
  }

  /** Replaces a waiting report by a re-signed one of the same sequence number. */
  replace(server: string, seq: number, update: Pick<OutboxEntry, 'report' | 'time' | 'edges' | 'sightings'>) {
    this.#db
      .prepare('UPDATE outbox SET report = ?, time = ?, edges = ?, sightings = ? WHERE server = ? AND seq = ?')
      .run(update.report, update.time, update.edges, update.sightings, server, seq);
  }

  /** Deletes a report the server answered. */
  remove(server: string, seq: number) {
    this.#db.prepare('DELETE FROM outbox WHERE server = ? AND seq = ?').run(server, seq);
  }
}

function toHeld(row: Record<string, unknown>): HeldSighting {
  return {
    server: row.server as string,
    cid: row.cid as string,
    fromPeer: row.from_peer as string,
    sighting: new Uint8Array(row.sighting as Uint8Array),
    heldSince: Number(row.held_since),
    refusals: Number(row.refusals),
    nextAttemptAt: Number(row.next_attempt_at),
  };
}

function toEntry(row: Record<string, unknown>): OutboxEntry {
  return {
    server: row.server as string,
    seq: Number(row.seq),
    report: new Uint8Array(row.report as Uint8Array),
    time: Number(row.time),
    edges: Number(row.edges),
    sightings: Number(row.sightings),
    createdAt: Number(row.created_at),
    attempts: Number(row.attempts),
    nextAttemptAt: Number(row.next_attempt_at),
    ...(row.last_error !== null && { lastError: row.last_error as string }),
  };
}
