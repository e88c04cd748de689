import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * JSON with bigints: they are written as `{"$bigint": "123"}` and read back as
 * bigints, since block numbers and versions outgrow `Number`.
 */
function replacer(_key: string, value: unknown) {
  return typeof value === 'bigint' ? { $bigint: value.toString() } : value;
}

function reviver(_key: string, value: unknown) {
  if (typeof value === 'object' && value !== null && Object.keys(value).length === 1 && '$bigint' in value) {
    return BigInt((value as { $bigint: string }).$bigint);
  }
  return value;
}

/** Reads a JSON file written by {@link writeJsonFile}, or returns undefined if there is none. */
export async function readJsonFile<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8'), reviver) as T;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * Writes JSON so that a crash at any moment leaves either the old file or the
 * new one, never a torn one: write a temporary file, flush it to disk, rename.
 */
export async function writeJsonFile(path: string, value: unknown): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const temporary = `${path}.${process.pid}.tmp`;
  const file = await open(temporary, 'w');
  try {
    await file.writeFile(`${JSON.stringify(value, replacer, 2)}\n`);
    await file.sync();
  } finally {
    await file.close();
  }
  await rename(temporary, path);
}
