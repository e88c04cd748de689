import type { Writable } from 'node:stream';

/** The story's steps, in order: the progress indicator counts them. */
export const STEPS = [
  'Clean sharing',
  'A listing vote',
  'Nodes refuse it',
  'The servers infer the origin',
  'Penalties apply',
  'The content is gone',
  'Protest fork',
] as const;

/**
 * The demo's readable timeline: one line per event, each with the time since the start, and a header per step
 * with a progress bar. On a terminal, a wait shows what it waits for and for how long on a line of its own.
 */
export class Timeline {
  readonly #out: Writable;
  readonly #tty: boolean;
  readonly #start = Date.now();
  #step = 0;
  #spinner?: { timer: ReturnType<typeof setInterval>; what: string; since: number };

  constructor(out: Writable, options: { tty?: boolean } = {}) {
    this.#out = out;
    this.#tty = options.tty ?? (out as Writable & { isTTY?: boolean }).isTTY === true;
  }

  /** Seconds since the demo started. */
  get elapsedSeconds(): number {
    return (Date.now() - this.#start) / 1000;
  }

  /** A line of the set-up, before step 1. */
  setup(text: string) {
    this.#write(`${this.#clock()} setup  ${text}`);
  }

  /** Starts step `n` (1-based) of {@link STEPS}. */
  step(n: number, detail?: string) {
    this.#step = n;
    const bar = `${'■'.repeat(n)}${'□'.repeat(STEPS.length - n)}`;
    this.#write('');
    this.#write(`${this.#clock()} [${bar}] ${n}/${STEPS.length} ${STEPS[n - 1]}${detail ? ` — ${detail}` : ''}`);
  }

  /** Something that happened. */
  info(text: string) {
    this.#write(`${this.#clock()}        ${text}`);
  }

  /** A claim's outcome. */
  claim(holds: boolean, text: string) {
    this.#write(`${this.#clock()}   ${holds ? '✓' : '✗'}    ${text}`);
  }

  /** Runs `task` while telling, on a terminal, what the demo waits for. */
  async waiting<T>(what: string, task: () => Promise<T>): Promise<T> {
    if (!this.#tty) return task();
    this.#stopSpinner();
    const since = Date.now();
    const draw = () => {
      const seconds = ((Date.now() - since) / 1000).toFixed(0);
      this.#out.write(`\r\x1b[2K${this.#clock()}        … ${what} (${seconds} s)`);
    };
    this.#spinner = { timer: setInterval(draw, 500), what, since };
    draw();
    try {
      return await task();
    } finally {
      this.#stopSpinner();
    }
  }

  /** Plain text, such as the final table. */
  raw(text: string) {
    this.#write(text);
  }

  get currentStep(): number {
    return this.#step;
  }

  #stopSpinner() {
    if (!this.#spinner) return;
    clearInterval(this.#spinner.timer);
    this.#spinner = undefined;
    this.#out.write('\r\x1b[2K');
  }

  #clock(): string {
    const seconds = this.elapsedSeconds;
    const minutes = Math.floor(seconds / 60);
    return `[${String(minutes).padStart(2, '0')}:${(seconds - minutes * 60).toFixed(1).padStart(4, '0')}]`;
  }

  #write(line: string) {
    if (this.#spinner) this.#out.write('\r\x1b[2K');
    this.#out.write(`${line}\n`);
  }
}

/** One claim of the story, checked from what the processes report. */
export interface ClaimResult {
  holds: boolean;
  /** What was claimed. */
  text: string;
  /** What was observed, when it did not hold (or to show the numbers). */
  detail?: string;
}

/** The claims of the story: each is checked once from observed state, printed, and kept for the final JSON. */
export class Claims {
  readonly #timeline: Timeline;
  readonly results = new Map<string, ClaimResult>();

  constructor(timeline: Timeline) {
    this.#timeline = timeline;
  }

  /** Records claim `name`; a claim checked again keeps its worst outcome. */
  check(name: string, holds: boolean, text: string, detail?: string): boolean {
    const earlier = this.results.get(name);
    const result = { holds: holds && (earlier?.holds ?? true), text, detail: detail ?? earlier?.detail };
    this.results.set(name, result);
    this.#timeline.claim(holds, detail ? `${text} (${detail})` : text);
    return holds;
  }

  get allHold(): boolean {
    return this.results.size > 0 && [...this.results.values()].every((claim) => claim.holds);
  }

  /** `{name: true|false}`, for the final JSON. */
  toJSON(): Record<string, boolean> {
    return Object.fromEntries([...this.results].map(([name, claim]) => [name, claim.holds]));
  }
}

/** A row of the final table. */
export interface NodeRow {
  name: string;
  role: string;
  follows: string;
  /** Rating per server label ('-' when none). */
  verdicts: string;
  /** Penalties this node applies to others. */
  applies: string;
  /** How its neighbours treat it. */
  penalisedBy: string;
  /** Listed content it holds now, by item name, or 'none'. */
  listedHeld: string;
}

/** Formats rows as a fixed-width table. */
export function formatTable(rows: NodeRow[]): string {
  const headers: Record<keyof NodeRow, string> = {
    name: 'node',
    role: 'role',
    follows: 'follows',
    verdicts: 'verdicts on it',
    applies: 'penalties it applies',
    penalisedBy: 'penalised by',
    listedHeld: 'holds listed content',
  };
  const keys = Object.keys(headers) as (keyof NodeRow)[];
  const widths = keys.map((key) => Math.max(headers[key].length, ...rows.map((row) => row[key].length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => cell.padEnd(widths[i]))
      .join('  ')
      .trimEnd();
  return [
    line(keys.map((key) => headers[key])),
    line(widths.map((w) => '─'.repeat(w))),
    ...rows.map((row) => line(keys.map((key) => row[key]))),
  ].join('\n');
}
