import type { AbortOptions, Libp2p, PeerId, Stream } from '@libp2p/interface';
import { logger } from '@libp2p/logger';
import { type LengthPrefixedStream, lpStream } from '@libp2p/utils';
import type { Multiaddr } from '@multiformats/multiaddr';

const log = logger('nrp:node:rpc');

/** The most bytes one request or response may carry by default; each protocol sets its own. */
export const DEFAULT_MAX_MESSAGE_BYTES = 1 << 20;

export interface RequestOptions extends AbortOptions {
  /** Refuse a response larger than this. */
  maxResponseBytes?: number;
}

/**
 * One request and one response over a new libp2p stream, each a single
 * length-prefixed message: the shape of nrp's report, ratings, edge and tip
 * protocols.
 *
 * @example
 * const ack = await request(libp2p, serverPeerId, '/nrp/report/1.0.0', encodeReport(report), { signal });
 */
export async function request(
  libp2p: Pick<Libp2p, 'dialProtocol'>,
  peer: PeerId | Multiaddr | Multiaddr[],
  protocol: string,
  message: Uint8Array,
  options: RequestOptions = {},
): Promise<Uint8Array> {
  const stream = await libp2p.dialProtocol(peer, protocol, options);
  try {
    const max = options.maxResponseBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    // The read buffer must hold a whole message; its own default cap is 4 MiB.
    const lp = lpStream(stream, { maxDataLength: max, maxBufferSize: max + 16 });
    await lp.write(message, options);
    const response = await lp.read(options);
    await stream.close(options);
    return response.subarray();
  } catch (error) {
    stream.abort(error as Error);
    throw error;
  }
}

export interface HandleOptions {
  /** Refuse a request larger than this; the stream is reset. */
  maxRequestBytes?: number;
  /**
   * Milliseconds one exchange may take: the first, from the stream's opening to its answer; each later one, from
   * its request's arrival to its answer. Default 10,000.
   */
  timeoutMs?: number;
  /**
   * Serve more requests on the same stream, one after another, until the client closes it: a client that
   * sends many (a node's reports, a {@link RequestChannel}) pays for opening a stream once. A client that
   * sends one and closes is served as before. Default false.
   */
  keepOpen?: boolean;
  /** With `keepOpen`, milliseconds a stream may wait for its next request before it is closed. Default 300,000. */
  idleTimeoutMs?: number;
}

/** What a handler knows of a request besides its bytes. */
export interface RequestContext {
  remotePeer: PeerId;
  /** Aborts when the exchange takes longer than its time limit. */
  signal: AbortSignal;
  /** Which request this is on its stream, from 0: more than one only with `keepOpen`. */
  exchange: number;
}

/**
 * Serves `protocol`: reads a request, answers with what `handler` returns (and, with `keepOpen`, the next
 * request on the same stream, until the client closes it or stays idle too long). A handler that throws, a
 * request that is too large or too slow, resets the stream; it never stops the node.
 */
export async function handleRequests(
  libp2p: Pick<Libp2p, 'handle'>,
  protocol: string,
  handler: (message: Uint8Array, context: RequestContext) => Promise<Uint8Array> | Uint8Array,
  options: HandleOptions = {},
): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const idleTimeoutMs = options.idleTimeoutMs ?? 300_000;
  await libp2p.handle(protocol, async (stream, connection) => {
    const max = options.maxRequestBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    const lp = lpStream(stream, { maxDataLength: max, maxBufferSize: max + 16 });
    // Not AbortSignal.timeout: its timer cannot be cleared, so every exchange, however quick, would later fire
    // it and build an abort error for nobody (measurable on a server taking thousands of reports a second).
    let limit = new TimeLimit(timeoutMs, 'The exchange took too long');
    try {
      for (let exchange = 0; ; exchange++) {
        let message: Uint8Array;
        try {
          message = (await lp.read({ signal: limit.signal })).subarray();
        } catch (error) {
          // Between two requests, the client closing its side is the normal end.
          if (exchange > 0 && (error as Error).name === 'UnexpectedEOFError') break;
          if (exchange > 0 && limit.signal.aborted) {
            // Idle past the limit, also a normal end: reset rather than wait on a client that may never close.
            log('closing an idle %s stream from %p', protocol, connection.remotePeer);
            stream.abort(limit.signal.reason);
            return;
          }
          throw error;
        }
        // An idle wait's limit covered only the wait: the exchange gets its own from its first byte.
        if (exchange > 0) {
          limit.clear();
          limit = new TimeLimit(timeoutMs, 'The exchange took too long');
        }
        const response = await handler(message, { remotePeer: connection.remotePeer, signal: limit.signal, exchange });
        await lp.write(response, { signal: limit.signal });
        if (!options.keepOpen) break;
        limit.clear();
        limit = new TimeLimit(idleTimeoutMs, 'The stream was idle too long');
      }
      await stream.close({ signal: limit.signal });
    } catch (error) {
      log('%s from %p failed: %s', protocol, connection.remotePeer, (error as Error).message);
      stream.abort(error as Error);
    } finally {
      limit.clear();
    }
  });
}

/** An abort signal that fires after `ms`, with a timer that can be cleared. */
class TimeLimit {
  readonly #controller = new AbortController();
  readonly #timer: ReturnType<typeof setTimeout>;

  constructor(ms: number, message: string) {
    this.#timer = setTimeout(() => this.#controller.abort(new DOMException(message, 'TimeoutError')), ms);
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  clear() {
    clearTimeout(this.#timer);
  }
}

export interface RequestChannelInit {
  /** Refuse a response larger than this. */
  maxResponseBytes?: number;
  /**
   * Open a new stream rather than use one idle this long: the server closes idle streams after its own
   * `idleTimeoutMs` (5 minutes by default), and a request must not race that. Default 120,000.
   */
  reuseWithinMs?: number;
}

/**
 * Requests and responses to one peer over one long-lived stream, one at a time, for a protocol served with
 * `keepOpen`: after the first, a request costs no new stream (and no protocol negotiation). A failed exchange
 * closes the stream, and the next request opens a new one.
 *
 * @example
 * const reports = new RequestChannel(libp2p, serverPeerId, '/nrp/report/1.0.0', { maxResponseBytes: 512 });
 * const ack = await reports.request(encodeReport(report), { signal });
 * await reports.close();
 */
export class RequestChannel {
  readonly #libp2p: Pick<Libp2p, 'dialProtocol'>;
  readonly #peer: PeerId | Multiaddr | Multiaddr[];
  readonly #protocol: string;
  readonly #maxResponseBytes: number;
  readonly #reuseWithinMs: number;
  #open?: { stream: Stream; lp: LengthPrefixedStream<Stream>; lastUsed: number };
  /** The exchange under way: the next one waits for it. */
  #busy: Promise<unknown> = Promise.resolve();
  #streamsOpened = 0;

  constructor(
    libp2p: Pick<Libp2p, 'dialProtocol'>,
    peer: PeerId | Multiaddr | Multiaddr[],
    protocol: string,
    init: RequestChannelInit = {},
  ) {
    this.#libp2p = libp2p;
    this.#peer = peer;
    this.#protocol = protocol;
    this.#maxResponseBytes = init.maxResponseBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    this.#reuseWithinMs = init.reuseWithinMs ?? 120_000;
  }

  /** Streams opened so far: one, for a client whose stream was never closed under it. */
  get streamsOpened(): number {
    return this.#streamsOpened;
  }

  /** Sends `message` and resolves with the response, after any request sent before it. */
  request(message: Uint8Array, options: AbortOptions = {}): Promise<Uint8Array> {
    const run = this.#busy.then(() => this.#exchange(message, options));
    this.#busy = run.catch(() => {});
    return run;
  }

  /** Closes the stream, if one is open, telling the server this client is done. */
  async close(options: AbortOptions = {}): Promise<void> {
    const open = this.#open;
    this.#open = undefined;
    await open?.stream.close(options).catch((error: Error) => open.stream.abort(error));
  }

  async #exchange(message: Uint8Array, options: AbortOptions): Promise<Uint8Array> {
    options.signal?.throwIfAborted();
    const open = await this.#stream(options);
    try {
      await open.lp.write(message, options);
      const response = await open.lp.read(options);
      open.lastUsed = Date.now();
      return response.subarray();
    } catch (error) {
      if (this.#open === open) this.#open = undefined;
      open.stream.abort(error as Error);
      throw error;
    }
  }

  async #stream(options: AbortOptions) {
    const open = this.#open;
    // Usable while both directions are open: a server that closed an idle stream has closed its side.
    const usable =
      open?.stream.status === 'open' &&
      open.stream.writeStatus === 'writable' &&
      open.stream.remoteWriteStatus === 'writable' &&
      Date.now() - open.lastUsed < this.#reuseWithinMs;
    if (open && usable) return open;
    this.#open = undefined;
    if (open) void open.stream.close().catch((error: Error) => open.stream.abort(error));
    const stream = await this.#libp2p.dialProtocol(this.#peer, this.#protocol, options);
    this.#streamsOpened++;
    const max = this.#maxResponseBytes;
    this.#open = {
      stream,
      lp: lpStream(stream, { maxDataLength: max, maxBufferSize: max + 16 }),
      lastUsed: Date.now(),
    };
    return this.#open;
  }
}
