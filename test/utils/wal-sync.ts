import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { openDatabase } from '../../src/utils/sqlite.js';
import { WalSync } from '../../src/utils/wal-sync.js';
import { removeDir } from '../helpers/dirs.js';

describe('WalSync: fsync of an SQLite log off the event loop', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nrp-wal-'));
  });
  afterEach(async () => {
    await removeDir(dir);
  });

  const items = { version: 1, sql: 'CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL)' };

  it('syncs commits made without waiting for the disk, one sync for the calls made while one runs', async () => {
    const path = join(dir, 'server.db');
    const db = openDatabase(path, [items]);
    const walSync = new WalSync(path);
    try {
      db.exec('PRAGMA synchronous = NORMAL');
      db.prepare('INSERT INTO items (name) VALUES (?)').run('first');
      const first = walSync.sync();
      db.prepare('INSERT INTO items (name) VALUES (?)').run('second');
      // The running sync may have started before the second commit: both later calls get the next one.
      const second = walSync.sync();
      const third = walSync.sync();
      expect(second).to.equal(third);
      expect(second).to.not.equal(first);
      await Promise.all([first, second, third]);
      // Once done, a call starts a sync of its own.
      const fourth = walSync.sync();
      expect(fourth).to.not.equal(second);
      await fourth;
      expect(db.prepare('SELECT name FROM items ORDER BY id').all()).to.deep.equal([
        { name: 'first' },
        { name: 'second' },
      ]);
    } finally {
      walSync.close();
      db.close();
    }
  });

  it('has nothing to sync without a log, and refuses once closed', async () => {
    const walSync = new WalSync(join(dir, 'never-written.db'));
    await walSync.sync();
    walSync.close();
    await walSync.sync().then(
      () => expect.fail('synced after close'),
      (error: Error) => expect(error.message).to.match(/closed/),
    );
  });
});
