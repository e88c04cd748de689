import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { DatabaseMigrationError, openDatabase, transaction } from '../../src/utils/sqlite.js';
import { removeDir } from '../helpers/dirs.js';

describe('openDatabase', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nrp-db-'));
  });
  afterEach(async () => {
    await removeDir(dir);
  });

  const v1 = { version: 1, sql: 'CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL)' };
  const v2 = { version: 2, sql: 'ALTER TABLE items ADD COLUMN size INTEGER' };

  it('creates the schema in WAL mode, and migrates an older file forward once', () => {
    const path = join(dir, 'a', 'node.db');
    const first = openDatabase(path, [v1]);
    first.prepare('INSERT INTO items (name) VALUES (?)').run('kept');
    expect(first.prepare('PRAGMA journal_mode').get()).to.deep.equal({ journal_mode: 'wal' });
    first.close();
    const second = openDatabase(path, [v1, v2]);
    expect(second.prepare('SELECT name, size FROM items').all()).to.deep.equal([{ name: 'kept', size: null }]);
    second.close();
    openDatabase(path, [v1, v2]).close();
  });

  it('refuses a file from a newer version of the program', () => {
    const path = join(dir, 'node.db');
    openDatabase(path, [v1, v2]).close();
    expect(() => openDatabase(path, [v1])).to.throw(DatabaseMigrationError, /newer/);
  });

  it('rolls a failed transaction back whole', () => {
    const db = openDatabase(join(dir, 'node.db'), [v1]);
    expect(() =>
      transaction(db, () => {
        db.prepare('INSERT INTO items (name) VALUES (?)').run('half');
        db.prepare('INSERT INTO items (name) VALUES (?)').run(null);
      }),
    ).to.throw();
    expect(db.prepare('SELECT COUNT(*) AS n FROM items').get()).to.deep.equal({ n: 0 });
    db.close();
  });
});
