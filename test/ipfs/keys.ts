import { chmod, mkdtemp, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPair, privateKeyToProtobuf } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { expect } from 'chai';
import { KeyFileCorruptError, KeyFilePermissionsError, loadOrCreatePrivateKey } from '../../src/ipfs/keys.js';
import { removeDir } from '../helpers/dirs.js';

const posix = process.platform !== 'win32';

describe('loadOrCreatePrivateKey', () => {
  let dir: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nrp-keys-'));
  });

  afterEach(async () => {
    await removeDir(dir);
  });

  async function rejection(promise: Promise<unknown>): Promise<Error> {
    try {
      await promise;
    } catch (err) {
      return err as Error;
    }
    throw new Error('expected a rejection');
  }

  it('creates an Ed25519 key in a 0600 file, creating parent folders, and loads the same key again', async () => {
    const path = join(dir, 'a', 'b', 'peer.key');
    const created = await loadOrCreatePrivateKey(path);
    expect(created.type).to.equal('Ed25519');
    if (posix) {
      expect((await stat(path)).mode & 0o777).to.equal(0o600);
      expect((await stat(join(dir, 'a', 'b'))).mode & 0o777).to.equal(0o700);
    }
    const loaded = await loadOrCreatePrivateKey(path);
    expect(loaded.equals(created)).to.equal(true);
    expect(peerIdFromPrivateKey(loaded).toString()).to.equal(peerIdFromPrivateKey(created).toString());
    // Only the key file: no temporary file is left next to it.
    expect(await readdir(join(dir, 'a', 'b'))).to.deep.equal(['peer.key']);
  });

  it('stores the key protobuf-encoded with privateKeyToProtobuf from @libp2p/crypto', async () => {
    const path = join(dir, 'peer.key');
    const key = await loadOrCreatePrivateKey(path);
    expect(new Uint8Array(await readFile(path))).to.deep.equal(privateKeyToProtobuf(key));
  });

  it('agrees on one key when two callers create it at the same time', async () => {
    const path = join(dir, 'peer.key');
    const keys = await Promise.all([loadOrCreatePrivateKey(path), loadOrCreatePrivateKey(path)]);
    expect(keys[0].equals(keys[1])).to.equal(true);
    expect((await loadOrCreatePrivateKey(path)).equals(keys[0])).to.equal(true);
  });

  it('loads a key written by someone else with the right mode', async () => {
    const path = join(dir, 'peer.key');
    const key = await generateKeyPair('Ed25519');
    await writeFile(path, privateKeyToProtobuf(key), { mode: 0o600 });
    expect((await loadOrCreatePrivateKey(path)).equals(key)).to.equal(true);
  });

  it('refuses a key file that group or others can read or write', async function () {
    if (!posix) this.skip();
    const path = join(dir, 'peer.key');
    await loadOrCreatePrivateKey(path);
    for (const mode of [0o644, 0o640, 0o604, 0o620]) {
      await chmod(path, mode);
      const error = await rejection(loadOrCreatePrivateKey(path));
      expect(error).to.be.instanceOf(KeyFilePermissionsError);
      expect(error.name).to.equal('KeyFilePermissionsError');
      expect(error.message)
        .to.contain(path)
        .and.contain(`0${mode.toString(8)}`)
        .and.contain('chmod 600');
    }
  });

  it('refuses a key file that cannot be decoded', async () => {
    const path = join(dir, 'peer.key');
    for (const content of [Buffer.from('not a key'), Buffer.alloc(0), Buffer.from([0x08, 0x01, 0x12, 0x03, 1, 2, 3])]) {
      await writeFile(path, content, { mode: 0o600 });
      const error = await rejection(loadOrCreatePrivateKey(path));
      expect(error).to.be.instanceOf(KeyFileCorruptError);
      expect(error.name).to.equal('KeyFileCorruptError');
      expect(error.message).to.contain(path);
    }
  });

  it('refuses a key of another type than Ed25519', async () => {
    const path = join(dir, 'peer.key');
    await writeFile(path, privateKeyToProtobuf(await generateKeyPair('secp256k1')), { mode: 0o600 });
    const error = await rejection(loadOrCreatePrivateKey(path));
    expect(error).to.be.instanceOf(KeyFileCorruptError);
    expect(error.message).to.contain('secp256k1');
  });

  it('refuses a key whose stored public key does not match its private key', async () => {
    const path = join(dir, 'peer.key');
    const bytes = privateKeyToProtobuf(await generateKeyPair('Ed25519'));
    // The last byte belongs to the public key half of the 64-byte Ed25519 key.
    bytes[bytes.length - 1] ^= 0x01;
    await writeFile(path, bytes, { mode: 0o600 });
    const error = await rejection(loadOrCreatePrivateKey(path));
    expect(error).to.be.instanceOf(KeyFileCorruptError);
    expect(error.message).to.contain('public key');
  });

  it('does nothing when its signal is already aborted', async () => {
    const path = join(dir, 'peer.key');
    const error = await rejection(loadOrCreatePrivateKey(path, { signal: AbortSignal.abort() }));
    expect(error.name).to.equal('AbortError');
    expect(await readdir(dir)).to.deep.equal([]);
  });
});
