import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync } from 'node:sqlite';

/** One step of a database's schema; steps run once, in order, tracked by SQLite's `user_version`. */
export interface Migration {
  version: number;
  sql: string;
}

export class DatabaseMigrationError extends Error {
  override name = 'DatabaseMigrationError';
}

/**
 * Opens (creating if needed) an SQLite database for a node or server: WAL
 * mode, so readers never block the writer; `synchronous = FULL`, so a
 * committed write survives a crash or power loss; and the schema brought up
 * to date by `migrations`. Node's built-in `node:sqlite`, no native addon.
 *
 * @example
 * const db = openDatabase(join(dataDir, 'node.db'), [{ version: 1, sql: 'CREATE TABLE …' }]);
 */
export function openDatabase(path: string, migrations: readonly Migration[]): DatabaseSync {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const db = new DatabaseSync(path);
  db.exec(
    'PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON;',
  );
  const current = Number((db.prepare('PRAGMA user_version').get() as { user_version: number }).user_version);
  const latest = Math.max(0, ...migrations.map((m) => m.version));
  if (current > latest) {
    db.close();
    throw new DatabaseMigrationError(
      `${path} has schema version ${current}, newer than this program knows (${latest}); upgrade nrp.`,
    );
  }
  for (const migration of [...migrations].sort((a, b) => a.version - b.version)) {
    if (migration.version <= current) continue;
    transaction(db, () => {
      db.exec(migration.sql);
      db.exec(`PRAGMA user_version = ${migration.version}`);
    });
  }
  return db;
}

/** Runs `fn` in a transaction: all of its writes, or none. */
export function transaction<T>(db: DatabaseSync, fn: () => T): T {
  db.exec('BEGIN IMMEDIATE');
  try {
    const result = fn();
    db.exec('COMMIT');
    return result;
  } catch (error) {
    db.exec('ROLLBACK');
    throw error;
  }
}
