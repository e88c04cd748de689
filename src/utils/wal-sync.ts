import { close, closeSync, fdatasync, open } from 'node:fs';
import { dirname } from 'node:path';
import { logger } from '@libp2p/logger';

const log = logger('nrp:sqlite:wal-sync');

/**
 * Flushes an SQLite database's write-ahead log (`<path>-wal`) to disk with `fdatasync` on libuv's thread pool,
 * so the event loop keeps running while the disk works. With it, a writer can commit with
 * `PRAGMA synchronous = NORMAL` (in WAL mode: written to the log, not yet synced) and wait for {@link sync}
 * before it tells anyone the data is safe: the same guarantee as `synchronous = FULL`, which would block the
 * thread for the whole fsync of every commit (several milliseconds here).
 *
 * Calls while a sync runs share the next one, which starts when it ends: one fsync covers every commit made
 * before it started. The log's file stays the same while the database is open (SQLite truncates or rewrites
 * it, but removes it only when the last connection closes), so one descriptor serves for the store's life.
 *
 * @example
 * const walSync = new WalSync(dbPath);
 * db.exec('PRAGMA synchronous = NORMAL');
 * insert(rows);
 * db.exec('PRAGMA synchronous = FULL');
 * await walSync.sync(); // now the rows survive a power cut
 */
export class WalSync {
  readonly #path: string;
  #fd?: Promise<number | undefined>;
  #running?: Promise<void>;
  #next?: Promise<void>;
  #closed = false;

  /** `dbPath` is the database file's path, as `DatabaseSync.location()` gives it. */
  constructor(dbPath: string) {
    this.#path = `${dbPath}-wal`;
  }

  /** Resolves once everything written to the log before the call is on disk; rejects if the disk says no. */
  sync(): Promise<void> {
    if (this.#closed) return Promise.reject(new Error('The database is closed'));
    if (this.#running === undefined) {
      this.#running = this.#syncNow().finally(() => {
        this.#running = undefined;
      });
      return this.#running;
    }
    // The running sync may have started before the caller's commit: it gets the next one.
    this.#next ??= this.#running
      .catch(() => {})
      .then(() => {
        this.#next = undefined;
        return this.sync();
      });
    return this.#next;
  }

  /** Closes the log's descriptor, after a sync under way. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const fd = this.#fd;
    if (fd === undefined) return;
    void Promise.allSettled([this.#running, this.#next]).then(async () => {
      const descriptor = await fd.catch(() => undefined);
      if (descriptor !== undefined) closeSync(descriptor);
    });
  }

  async #syncNow(): Promise<void> {
    this.#fd ??= this.#open();
    const fd = await this.#fd.catch((error: Error) => {
      this.#fd = undefined;
      throw error;
    });
    if (fd === undefined) {
      // No log (not in WAL mode, or nothing written yet): nothing waits in one. Look again next time.
      this.#fd = undefined;
      return;
    }
    await new Promise<void>((resolve, reject) => {
      fdatasync(fd, (error) => (error ? reject(error) : resolve()));
    });
  }

  /** Opens the log read-only (enough for fsync on Linux and macOS), and syncs its folder once, for its name. */
  async #open(): Promise<number | undefined> {
    const fd = await new Promise<number | undefined>((resolve, reject) => {
      open(this.#path, 'r', (error, descriptor) => {
        if (error?.code === 'ENOENT') resolve(undefined);
        else if (error) reject(error);
        else resolve(descriptor);
      });
    });
    if (fd === undefined) return undefined;
    if (this.#closed) {
      closeSync(fd);
      return undefined;
    }
    await syncFolder(dirname(this.#path)).catch((error: Error) => log('could not sync the folder: %s', error.message));
    return fd;
  }
}

function syncFolder(path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    open(path, 'r', (error, fd) => {
      if (error) return reject(error);
      fdatasync(fd, (syncError) => {
        close(fd, () => (syncError ? reject(syncError) : resolve()));
      });
    });
  });
}
