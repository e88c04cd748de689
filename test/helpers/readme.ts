import { type ChildProcess, spawn } from 'node:child_process';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { completion, type ProcessResult } from './process.js';

const ROOT = join(import.meta.dirname, '../..');

/**
 * The commands of the first shell block after a README heading, as a reader would type them: lines continued
 * with `\` joined, blank lines and comment lines dropped. Throws if there is no such heading or block, so a
 * renamed section fails the test that walks it instead of walking nothing.
 */
export function shellBlockAfter(readme: string, heading: string): string[] {
  const lines = readme.split('\n');
  // A heading is a `#` line outside code blocks (shell comments start with `#` too).
  let fenced = false;
  const isHeading = lines.map((line) => {
    if (line.startsWith('```')) fenced = !fenced;
    return !fenced && /^#+ /.test(line);
  });
  const at = lines.findIndex((line, i) => isHeading[i] && line.replace(/^#+ /, '') === heading);
  if (at < 0) throw new Error(`README has no heading “${heading}”`);
  const rest = lines.slice(at + 1);
  const nextHeading = rest.findIndex((_, i) => isHeading[at + 1 + i]);
  const section = (nextHeading < 0 ? rest : rest.slice(0, nextHeading)).join('\n');
  const block = /```(?:sh|bash|shell)\n([\s\S]*?)```/.exec(section)?.[1];
  if (block === undefined) throw new Error(`README section “${heading}” has no shell block`);
  return block
    .replace(/\\\n\s*/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
}

/** The README's placeholders (`<proposal-id>`) still in a command. */
export function placeholdersIn(command: string): string[] {
  return [...command.matchAll(/<[a-z][a-z-]*>/g)].map((match) => match[0]);
}

/** Runs one command line with bash, as a reader's terminal would. */
export function runShell(command: string, options: { cwd: string; env: NodeJS.ProcessEnv }): Promise<ProcessResult> {
  return completion(spawn('bash', ['-c', command], { ...options, stdio: ['ignore', 'pipe', 'pipe'] }));
}

/**
 * Writes an `npx` into `dir` that runs `npx nrp …` as a clone's `npx nrp` does (this checkout's bin/nrp.js on
 * this Node) and refuses anything else, so a README command that needs another package fails loudly. Put `dir`
 * first in PATH.
 */
export async function writeNpxShim(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, 'npx');
  await writeFile(
    path,
    [
      '#!/bin/sh',
      `if [ "$1" = nrp ]; then shift; exec '${process.execPath}' '${join(ROOT, 'bin/nrp.js')}' "$@"; fi`,
      'echo "readme walk: only npx nrp is provided, not npx $1" >&2',
      'exit 127',
      '',
    ].join('\n'),
  );
  await chmod(path, 0o755);
}

/**
 * The README's YAML block that starts with `firstLine` (`# nrp-node.yaml` for a configuration file), as the reader
 * would copy it. Throws if there is none, so a renamed file fails the walk instead of skipping it.
 */
export function yamlBlockStartingWith(readme: string, firstLine: string): string {
  for (const match of readme.matchAll(/```yaml\n([\s\S]*?)```/g)) {
    const block = match[1] as string;
    if (block.startsWith(`${firstLine}\n`)) return block;
  }
  throw new Error(`README has no YAML block starting with ${firstLine}`);
}

/** A command line without its trailing comment, as bash reads it (a `#` after a space, outside quotes). */
export function withoutComment(command: string): string {
  let quote: string | undefined;
  for (let i = 0; i < command.length; i++) {
    const c = command[i];
    if (quote) {
      if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '#' && (i === 0 || /\s/.test(command[i - 1] as string))) return command.slice(0, i).trimEnd();
  }
  return command;
}

/** A command the walk started in the background, as a reader runs it in another terminal. */
export interface BackgroundCommand {
  command: string;
  child: ChildProcess;
  output: () => string;
  /** Ctrl-C, then the exit code. */
  interrupt: () => Promise<number | null>;
}

/**
 * Starts a long-running command (`node start`, `server start`) in its own process group, as a terminal does,
 * and resolves once it prints `ready`. Rejects with its output if it exits first or takes over `timeoutMs`.
 */
export function startInBackground(
  command: string,
  options: { cwd: string; env: NodeJS.ProcessEnv; ready: RegExp; timeoutMs?: number },
): Promise<BackgroundCommand> {
  const child = spawn('bash', ['-c', command], {
    cwd: options.cwd,
    env: options.env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let output = '';
  const append = (d: Buffer) => {
    output += d;
  };
  child.stdout.on('data', append);
  child.stderr.on('data', append);
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const started: BackgroundCommand = {
    command,
    child,
    output: () => output,
    interrupt: async () => {
      if (child.exitCode === null && child.signalCode === null) process.kill(-(child.pid as number), 'SIGINT');
      const timer = setTimeout(() => process.kill(-(child.pid as number), 'SIGKILL'), 20_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void started.interrupt();
      reject(
        new Error(`$ ${command}\ndid not print ${options.ready} within ${options.timeoutMs ?? 60_000} ms:\n${output}`),
      );
    }, options.timeoutMs ?? 60_000);
    const check = () => {
      if (!options.ready.test(output)) return;
      clearTimeout(timer);
      resolve(started);
    };
    child.stdout.on('data', check);
    child.stderr.on('data', check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`$ ${command}\nexited with ${code} before it was ready:\n${output}`));
    });
  });
}
