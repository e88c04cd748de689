import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { logger } from '@libp2p/logger';

const log = logger('nrp:demo:processes');

/** The `nrp` command, run by every child the demo starts. */
export const NRP_BIN = join(import.meta.dirname, '../../bin/nrp.js');

/**
 * Loaded into every child before anything else: once the demo is gone (even killed with SIGKILL, which leaves no
 * time to clean up), the child is re-parented, sees it, and stops itself as on Ctrl-C.
 */
const ORPHAN_GUARD =
  'data:text/javascript,const parent=process.ppid;' +
  "setInterval(()=>{if(process.ppid!==parent)process.kill(process.pid,'SIGTERM')},1000).unref();";

/** How long a child has to stop on SIGTERM before it is killed. */
const STOP_GRACE_MS = 10_000;

/** A child process exited while the demo still needed it. */
export class ChildExitedError extends Error {
  override name = 'ChildExitedError';
}

/** One line a child printed, with when the demo read it. */
export interface ChildLine {
  at: number;
  stream: 'stdout' | 'stderr';
  text: string;
}

/** A child process of the demo: its output goes to a log file, and line by line to listeners. */
export class DemoProcess {
  readonly name: string;
  readonly logPath: string;
  readonly child: ChildProcess;
  /** Resolves with the exit code (or the signal's name) when the child is gone. */
  readonly exited: Promise<number | string>;
  #exit?: number | string;
  readonly #listeners = new Set<(line: ChildLine) => void>();
  readonly #log: WriteStream;
  #stopping = false;
  /** The error `nrp` printed before giving up (`nrp: …`), if it did: the process may linger, but it failed. */
  #fatal?: string;

  constructor(name: string, logPath: string, child: ChildProcess, logStream: WriteStream) {
    this.name = name;
    this.logPath = logPath;
    this.child = child;
    this.#log = logStream;
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.#exit = code ?? signal ?? 'unknown';
        this.#log.write(`${new Date().toISOString()} [demo] exited: ${this.#exit}\n`);
        resolve(this.#exit);
      });
      child.once('error', (error) => {
        this.#exit = `spawn error: ${error.message}`;
        this.#log.write(`${new Date().toISOString()} [demo] ${this.#exit}\n`);
        resolve(this.#exit);
      });
    });
    for (const stream of ['stdout', 'stderr'] as const) {
      const source = child[stream];
      if (!source) continue;
      createInterface({ input: source, crlfDelay: Number.POSITIVE_INFINITY }).on('line', (text) => {
        const line: ChildLine = { at: Date.now(), stream, text };
        if (stream === 'stderr' && text.startsWith('nrp: ')) this.#fatal ??= text.slice('nrp: '.length);
        this.#log.write(`${new Date(line.at).toISOString()} ${stream === 'stderr' ? '!' : ' '} ${text}\n`);
        for (const listener of this.#listeners) listener(line);
      });
    }
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Whether the child is still running. */
  get running(): boolean {
    return this.#exit === undefined;
  }

  /** Throws {@link ChildExitedError} if the child is gone or said it failed, naming its log. */
  assertRunning(): void {
    if (this.#fatal !== undefined)
      throw new ChildExitedError(`${this.name} failed: ${this.#fatal} (see ${this.logPath})`);
    if (this.#exit !== undefined) {
      throw new ChildExitedError(`${this.name} exited (${this.#exit}); see ${this.logPath}`);
    }
  }

  /** Calls `listener` with every line printed from now on; returns a function that stops that. */
  onLine(listener: (line: ChildLine) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** SIGTERM to the child's process group, then SIGKILL after a grace period; resolves once it is gone. */
  async stop(graceMs = STOP_GRACE_MS): Promise<void> {
    if (this.#exit !== undefined) return;
    if (!this.#stopping) {
      this.#stopping = true;
      this.#signal('SIGTERM');
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const killed = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        log('%s did not stop within %d ms: killing it', this.name, graceMs);
        this.#signal('SIGKILL');
        resolve();
      }, graceMs);
    });
    await Promise.race([this.exited, killed]);
    clearTimeout(timer);
    await this.exited;
    this.#log.end();
  }

  /** SIGKILL at once, synchronously: the last resort when the demo itself is exiting. */
  kill(): void {
    if (this.#exit === undefined) this.#signal('SIGKILL');
  }

  #signal(signal: NodeJS.Signals) {
    const pid = this.child.pid;
    if (pid === undefined) return;
    try {
      // The whole group: the child was started as a group leader, so nothing it started is left behind.
      process.kill(-pid, signal);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ESRCH') log('could not signal %s: %s', this.name, error);
    }
  }
}

/**
 * Starts the demo's children and makes sure none outlives it: each runs in its own process group (so Ctrl-C in
 * the terminal reaches only the demo, which stops them in order) with a guard that stops it if the demo dies,
 * and {@link stopAll} or, at the very end, {@link killAll} ends every one still running.
 */
export class ProcessSupervisor {
  readonly logDir: string;
  readonly #children: DemoProcess[] = [];

  constructor(logDir: string) {
    this.logDir = logDir;
  }

  /** Every child started, in order. */
  get children(): readonly DemoProcess[] {
    return this.#children;
  }

  /**
   * Runs `nrp <args>` as a child named `name`, its output in `<logDir>/<name>.log` (appended to, so a restarted
   * node keeps one log).
   */
  async startNrp(name: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<DemoProcess> {
    await mkdir(this.logDir, { recursive: true });
    const logPath = join(this.logDir, `${name}.log`);
    const logStream = createWriteStream(logPath, { flags: 'a' });
    logStream.write(`${new Date().toISOString()} [demo] nrp ${args.join(' ')}\n`);
    const child = spawn(process.execPath, ['--import', ORPHAN_GUARD, NRP_BIN, ...args], {
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
    });
    const started = new DemoProcess(name, logPath, child, logStream);
    this.#children.push(started);
    return started;
  }

  /**
   * Runs a one-shot `nrp <args>` (with `--json` among them) to its end and returns its exit code and standard
   * output; its stderr goes to its log. Throws {@link ChildExitedError} with the command's own error line if it
   * fails, or if it runs longer than `timeoutMs`.
   */
  async runNrp(name: string, args: string[], options: { timeoutMs: number; env?: NodeJS.ProcessEnv }): Promise<string> {
    const child = await this.startNrp(name, args, options.env);
    const stdout: string[] = [];
    const errors: string[] = [];
    child.onLine((line) => (line.stream === 'stdout' ? stdout : errors).push(line.text));
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), options.timeoutMs);
    });
    const code = await Promise.race([child.exited, timedOut]);
    clearTimeout(timer);
    if (code === 'timeout') {
      await child.stop();
      throw new ChildExitedError(`nrp ${args.join(' ')} took over ${options.timeoutMs / 1000} s; see ${child.logPath}`);
    }
    if (code !== 0) {
      const reason = errors.find((line) => line.startsWith('nrp: '))?.slice('nrp: '.length) ?? `exit code ${code}`;
      throw new ChildExitedError(`${name} failed: ${reason} (see ${child.logPath})`);
    }
    return stdout.join('\n');
  }

  /** Stops every running child, all at once, each with SIGTERM and then SIGKILL. */
  async stopAll(): Promise<void> {
    await Promise.all(this.#children.map((child) => child.stop()));
  }

  /** SIGKILLs every child still running, synchronously (for `process.on('exit')`). */
  killAll(): void {
    for (const child of this.#children) child.kill();
  }
}
