import { randomBytes } from 'node:crypto';
import { link, mkdir, open, readFile, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import {
  generateKeyPair,
  generateKeyPairFromSeed,
  privateKeyFromProtobuf,
  privateKeyToProtobuf,
} from '@libp2p/crypto/keys';
import type { Ed25519PrivateKey } from '@libp2p/interface';
import { logger } from '@libp2p/logger';

const log = logger('nrp:ipfs:keys');

/** Group and other permission bits: any of them on a key file lets another user read or replace the key. */
const GROUP_OTHER_BITS = 0o077;

/** The key file exists but other users can read or write it, so the key may already be leaked. */
export class KeyFilePermissionsError extends Error {
  override name = 'KeyFilePermissionsError';
  readonly path: string;
  readonly mode: number;
  constructor(path: string, mode: number) {
    const octal = (mode & 0o777).toString(8).padStart(4, '0');
    super(
      `Key file ${path} has mode ${octal}: it must be readable only by its owner. ` +
        `If the key may have leaked, delete the file to get a new peer id; otherwise run: chmod 600 '${path}'`,
    );
    this.path = path;
    this.mode = mode;
  }
}

/** The key file exists but does not hold a protobuf-encoded Ed25519 libp2p private key. */
export class KeyFileCorruptError extends Error {
  override name = 'KeyFileCorruptError';
  readonly path: string;
  constructor(path: string, reason: string, options?: ErrorOptions) {
    super(
      `Key file ${path} is not a libp2p Ed25519 private key (${reason}). ` +
        'Restore it from a backup, or delete it to start with a new peer id.',
      options,
    );
    this.path = path;
  }
}

/**
 * Load the node's libp2p identity from `path`, or create it there if the file does not exist.
 *
 * The key is an Ed25519 private key, protobuf-encoded with `privateKeyToProtobuf`, in a file of mode 0600
 * (parent folders are created with mode 0700). Since the peer id is derived from the key, a node keeps
 * its peer id across restarts. A new key is written to a temporary file and hard-linked into place, so a
 * crash never leaves a half-written key and two processes racing to create it agree on one key.
 *
 * @throws {KeyFilePermissionsError} on POSIX, if group or others have any permission on an existing file.
 * @throws {KeyFileCorruptError} if an existing file cannot be decoded as an Ed25519 key.
 */
export async function loadOrCreatePrivateKey(
  path: string,
  { signal }: { signal?: AbortSignal } = {},
): Promise<Ed25519PrivateKey> {
  signal?.throwIfAborted();
  const existing = await readKeyFile(path, { signal });
  if (existing != null) return existing;

  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const key = await generateKeyPair('Ed25519');
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const file = await open(tmp, 'wx', 0o600);
    try {
      // The umask can only clear bits, but be explicit: the file must be exactly 0600.
      await file.chmod(0o600);
      await file.writeFile(privateKeyToProtobuf(key), { signal });
      await file.sync();
    } finally {
      await file.close();
    }
    signal?.throwIfAborted();
    try {
      // link() fails if `path` exists, unlike rename(): a key another process created first wins.
      await link(tmp, path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      log('key file %s was created concurrently, loading it', path);
      const theirs = await readKeyFile(path, { signal });
      if (theirs == null) throw err;
      return theirs;
    }
  } finally {
    await unlink(tmp).catch(() => {});
  }
  log('created a new libp2p key at %s', path);
  return key;
}

/** The key at `path`, or undefined if there is no file. */
async function readKeyFile(path: string, { signal }: { signal?: AbortSignal }): Promise<Ed25519PrivateKey | undefined> {
  let bytes: Uint8Array;
  try {
    // Check the mode before reading, so a leaked key is never used, not even once.
    const stats = await stat(path);
    if (process.platform !== 'win32' && (stats.mode & GROUP_OTHER_BITS) !== 0) {
      throw new KeyFilePermissionsError(path, stats.mode);
    }
    bytes = await readFile(path, { signal });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  let key: ReturnType<typeof privateKeyFromProtobuf>;
  try {
    key = privateKeyFromProtobuf(bytes);
  } catch (err) {
    throw new KeyFileCorruptError(path, 'it cannot be decoded', { cause: err });
  }
  // Peer ids of Ed25519 keys embed the public key, so anyone can check a signature from the peer id alone.
  if (key.type !== 'Ed25519') throw new KeyFileCorruptError(path, `it holds a ${key.type} key`);
  // The encoding stores the public key next to the seed: a flipped bit there would change the peer id silently.
  const derived = await generateKeyPairFromSeed('Ed25519', key.raw.subarray(0, 32));
  if (!derived.publicKey.equals(key.publicKey)) {
    throw new KeyFileCorruptError(path, 'its public key does not match its private key');
  }
  return key;
}
