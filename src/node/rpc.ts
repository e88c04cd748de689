import type { AbortOptions, Libp2p, PeerId } from '@libp2p/interface';
import { logger } from '@libp2p/logger';
import { lpStream } from '@libp2p/utils';
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
  /** Milliseconds the whole exchange may take. Default 10,000. */
  timeoutMs?: number;
}

/**
 * Serves `protocol`: reads one request, answers with what `handler` returns.
 * A handler that throws, a request that is too large or too slow, resets the
 * stream; it never stops the node.
 */
export async function handleRequests(
  libp2p: Pick<Libp2p, 'handle'>,
  protocol: string,
  handler: (message: Uint8Array, context: { remotePeer: PeerId; signal: AbortSignal }) => Promise<Uint8Array>,
  options: HandleOptions = {},
): Promise<void> {
  await libp2p.handle(protocol, async (stream, connection) => {
    // Not AbortSignal.timeout: its timer cannot be cleared, so every exchange, however quick, would later fire
    // it and build an abort error for nobody (measurable on a server taking thousands of reports a second).
    const controller = new AbortController();
    const timer = setTimeout(
      () => controller.abort(new DOMException('The exchange took too long', 'TimeoutError')),
      options.timeoutMs ?? 10_000,
    );
    const signal = controller.signal;
    try {
      const max = options.maxRequestBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
      const lp = lpStream(stream, { maxDataLength: max, maxBufferSize: max + 16 });
      const message = await lp.read({ signal });
      const response = await handler(message.subarray(), { remotePeer: connection.remotePeer, signal });
      await lp.write(response, { signal });
      await stream.close({ signal });
    } catch (error) {
      log('%s from %p failed: %s', protocol, connection.remotePeer, (error as Error).message);
      stream.abort(error as Error);
    } finally {
      clearTimeout(timer);
    }
  });
}
