import { setTimeout as delay } from 'node:timers/promises';

/**
 * Runs `tick` now and then every `intervalMs` until stopped. A tick that
 * throws goes to `onError`; the loop goes on. `stop` waits for a running tick.
 */
export class PollingLoop {
  #running?: { controller: AbortController; loop: Promise<void> };

  get running(): boolean {
    return this.#running !== undefined;
  }

  /** Starts the loop; resolves after the first tick. Does nothing if already running. */
  async start(
    tick: (signal: AbortSignal) => Promise<unknown>,
    options: { intervalMs: number; onError: (error: Error) => void; signal?: AbortSignal },
  ): Promise<void> {
    if (this.#running) return;
    const controller = new AbortController();
    const signal = options.signal ? AbortSignal.any([options.signal, controller.signal]) : controller.signal;
    const once = () => tick(signal).catch((error: Error) => signal.aborted || options.onError(error));
    const first = once();
    const loop = (async () => {
      await first;
      while (!signal.aborted) {
        await delay(options.intervalMs, undefined, { signal }).catch(() => {});
        if (!signal.aborted) await once();
      }
    })();
    this.#running = { controller, loop };
    await first;
  }

  async stop(): Promise<void> {
    const running = this.#running;
    if (!running) return;
    this.#running = undefined;
    running.controller.abort();
    await running.loop;
  }
}
