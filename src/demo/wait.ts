import { setTimeout as sleep } from 'node:timers/promises';

/** Something the demo waited for did not happen in time; the message says what, and what was seen last. */
export class DemoTimeoutError extends Error {
  override name = 'DemoTimeoutError';
}

export interface WaitOptions {
  timeoutMs: number;
  /** Milliseconds between checks. Default 250. */
  intervalMs?: number;
  signal?: AbortSignal;
  /** Called before every check; throws to give up at once (e.g. a child process that the wait needs has exited). */
  health?: () => void;
  /** What to add to the timeout's message: the state seen at the last check. */
  describe?: () => string | Promise<string>;
}

/**
 * Checks `check` until it holds, or throws {@link DemoTimeoutError} naming `what` after `timeoutMs`. A check that
 * throws counts as "not yet" (a process may not answer while it starts), and its last error goes in the message.
 *
 * @example
 * await waitUntil('every node to sync version 1', async () => (await versions()).every((v) => v === 1n), { timeoutMs: 30_000 });
 */
export async function waitUntil(
  what: string,
  check: () => boolean | Promise<boolean>,
  options: WaitOptions,
): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  let lastError: Error | undefined;
  for (;;) {
    options.signal?.throwIfAborted();
    options.health?.();
    try {
      if (await check()) return;
      lastError = undefined;
    } catch (error) {
      lastError = error as Error;
    }
    if (Date.now() >= deadline) {
      const seen = options.describe ? await Promise.resolve(options.describe()).catch((e: Error) => e.message) : '';
      const details = [seen && `last seen: ${seen}`, lastError && `last error: ${lastError.message}`]
        .filter(Boolean)
        .join('; ');
      throw new DemoTimeoutError(
        `Timed out after ${Math.round(options.timeoutMs / 1000)} s waiting for ${what}${details ? ` (${details})` : ''}`,
      );
    }
    await sleep(options.intervalMs ?? 250, undefined, { signal: options.signal });
  }
}

/** Runs `tasks` with at most `limit` at a time, in order; rejects with the first failure. */
export async function withConcurrency<T>(limit: number, tasks: (() => Promise<T>)[]): Promise<T[]> {
  const results: T[] = new Array(tasks.length);
  let next = 0;
  const worker = async () => {
    while (next < tasks.length) {
      const i = next++;
      results[i] = await tasks[i]();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
  return results;
}
