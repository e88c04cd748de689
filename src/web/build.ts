import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { logger } from '@libp2p/logger';

const log = logger('nrp:web:build');

/** The repository root: the web app's sources are in `web/`, and it imports shared code from `src/`. */
const ROOT = resolve(import.meta.dirname, '../..');

/** Where the web app's sources are: `index.html`, `vite.config.ts` and `src/`. */
export const WEB_SOURCE_DIR = join(ROOT, 'web');

/** Where `nrp web` builds the app to and serves it from (gitignored). */
export const WEB_BUILD_DIR = join(ROOT, 'dist/web');

/** Written into the build: which source files went into it, and their hash, to tell when it is stale. */
const STAMP_FILE = '.nrp-build.json';

/** Files that shape every build besides the modules it bundles. */
const ALWAYS_INPUTS = ['web/index.html', 'web/vite.config.ts', 'package-lock.json'];

interface BuildStamp {
  /** Source files of the build, relative to the repository root. */
  inputs: string[];
  /** sha256 over the inputs' paths and contents. */
  hash: string;
}

export interface EnsureWebBuildOptions {
  /** Where to build. Default {@link WEB_BUILD_DIR}. */
  outDir?: string;
  /** Build even if the build is up to date. */
  force?: boolean;
  /** Called before a build starts, e.g. to tell the user why they wait. */
  onBuild?: (reason: string) => void;
  signal?: AbortSignal;
}

export interface EnsureWebBuildReturnType {
  outDir: string;
  /** Whether this call built the app (false: the build was up to date). */
  built: boolean;
}

/**
 * Builds the web app with Vite unless `outDir` already holds a build of the current sources. A build records
 * every source file that went into it (the app's own and the shared `src/` modules it bundles) with their
 * hash, so a change to any of them, or to the installed packages, makes it stale. The build goes to a
 * temporary folder that replaces `outDir` when complete, so a server never serves half a build.
 *
 * @example
 * const { outDir } = await ensureWebBuild({ onBuild: (why) => console.error(`Building the web app: ${why}`) });
 */
export async function ensureWebBuild(options: EnsureWebBuildOptions = {}): Promise<EnsureWebBuildReturnType> {
  const outDir = options.outDir ?? WEB_BUILD_DIR;
  const reason = options.force ? 'a rebuild was asked for' : await staleReason(outDir);
  if (reason === undefined) return { outDir, built: false };
  options.signal?.throwIfAborted();
  options.onBuild?.(reason);
  log('building the web app into %s: %s', outDir, reason);

  const temporary = `${outDir}.building-${process.pid}-${Date.now()}`;
  try {
    const moduleFiles = await viteBuild(temporary);
    // The bundled modules, and every file of the app's own sources, such as style sheets.
    const ownFiles = (await readdir(join(WEB_SOURCE_DIR, 'src'), { recursive: true, withFileTypes: true }))
      .filter((entry) => entry.isFile())
      .map((entry) => relative(ROOT, join(entry.parentPath, entry.name)));
    const inputs = [...new Set([...ALWAYS_INPUTS, ...ownFiles, ...moduleFiles])].sort();
    const stamp: BuildStamp = { inputs, hash: await hashInputs(inputs) };
    await writeFile(join(temporary, STAMP_FILE), `${JSON.stringify(stamp, null, 2)}\n`);
    await rm(outDir, { recursive: true, force: true });
    await mkdir(resolve(outDir, '..'), { recursive: true });
    await rename(temporary, outDir);
  } finally {
    await rm(temporary, { recursive: true, force: true });
  }
  return { outDir, built: true };
}

/** Why the build in `outDir` cannot be served as is, or undefined when it is up to date. */
async function staleReason(outDir: string): Promise<string | undefined> {
  let stamp: BuildStamp;
  try {
    stamp = JSON.parse(await readFile(join(outDir, STAMP_FILE), 'utf8')) as BuildStamp;
  } catch {
    return 'there is no build yet';
  }
  if (!Array.isArray(stamp.inputs) || typeof stamp.hash !== 'string') return 'the build record is damaged';
  const hash = await hashInputs(stamp.inputs).catch(() => undefined);
  if (hash !== stamp.hash) return 'its sources changed';
  return undefined;
}

async function hashInputs(inputs: readonly string[]): Promise<string> {
  const hash = createHash('sha256');
  for (const input of inputs) {
    hash.update(`${input}\0`);
    hash.update(await readFile(join(ROOT, input)));
    hash.update('\0');
  }
  return hash.digest('hex');
}

/** Runs Vite's production build into `outDir`; returns the repository's source files it bundled. */
async function viteBuild(outDir: string): Promise<string[]> {
  // Loaded here, not at the top: every other `nrp` command would otherwise load Vite for nothing.
  const [{ build }, { default: config }] = await Promise.all([import('vite'), import('../../web/vite.config.js')]);
  const result = await build({
    ...config,
    configFile: false,
    logLevel: 'error',
    build: { ...config.build, outDir, emptyOutDir: true },
  });
  const outputs = Array.isArray(result) ? result : [result];
  const files = new Set<string>();
  for (const output of outputs) {
    if (!('output' in output)) continue;
    for (const item of output.output) {
      if (item.type !== 'chunk') continue;
      for (const id of item.moduleIds) {
        const path = id.replace(/[?#].*$/, '');
        if (!isAbsolute(path) || path.includes('/node_modules/')) continue;
        const inRepo = relative(ROOT, path);
        if (!inRepo.startsWith('..')) files.add(inRepo);
      }
    }
  }
  return [...files];
}
