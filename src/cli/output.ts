import type { Writable } from 'node:stream';

/** Where a command writes, and how: tables and sentences for people, one JSON document with --json. */
export class Output {
  constructor(
    readonly stdout: Writable,
    readonly stderr: Writable,
    readonly json: boolean,
  ) {}

  /** A line for people; nothing in --json mode. */
  line(text = '') {
    if (!this.json) this.stdout.write(`${text}\n`);
  }

  /** A notice on stderr, shown in both modes, so it never corrupts JSON on stdout. */
  note(text: string) {
    this.stderr.write(`${text}\n`);
  }

  /** The command's result: printed as JSON in --json mode, otherwise by `human`. */
  result<T>(value: T, human: (value: T) => void) {
    if (this.json) this.stdout.write(`${JSON.stringify(value, jsonReplacer, 2)}\n`);
    else human(value);
  }

  /**
   * A progress bar on stderr while `task` runs, for long fetches and builds.
   * Shown only on a terminal and never in --json mode.
   */
  async progress<T>(label: string, task: (update: (done: number, total: number) => void) => Promise<T>): Promise<T> {
    const tty = (this.stderr as Writable & { isTTY?: boolean }).isTTY === true;
    if (this.json || !tty) return task(() => {});
    const { SingleBar } = await import('cli-progress');
    const bar = new SingleBar({
      format: `${label} [{bar}] {percentage}% {value}/{total}`,
      stream: this.stderr as NodeJS.WriteStream,
      hideCursor: true,
      clearOnComplete: true,
    });
    let started = false;
    try {
      return await task((done, total) => {
        if (!started) {
          bar.start(total, done);
          started = true;
        } else {
          bar.setTotal(total);
          bar.update(done);
        }
      });
    } finally {
      if (started) bar.stop();
    }
  }
}

/** JSON for bigints (as strings), byte arrays (as 0x hex) and CIDs (as strings, not `{"/": …}`). */
export function jsonReplacer(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Uint8Array) return `0x${Buffer.from(value).toString('hex')}`;
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const link = (value as Record<string, unknown>)['/'];
    if (Object.keys(value).length === 1 && typeof link === 'string') return link;
  }
  return value;
}
