import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { logger } from '@libp2p/logger';

const log = logger('nrp:demo:rpc-bridge');

/** What the bridge needs of a chain: an EIP-1193 `request`, such as Hardhat's in-process provider. */
export interface Eip1193Provider {
  request(args: { method: string; params?: unknown[] | object }): Promise<unknown>;
}

interface RpcRequest {
  jsonrpc: '2.0';
  id: number | string | null;
  method: string;
  params?: unknown[];
}

/** A served chain: where it answers, and how to stop serving it. */
export interface RpcBridge {
  url: string;
  close(): Promise<void>;
}

/** Request bodies larger than this are refused: a JSON-RPC call is small, a whole batch of them too. */
const MAX_BODY_BYTES = 16 * 2 ** 20;

/**
 * Serves an EIP-1193 provider (Hardhat's in-process chain) as JSON-RPC over HTTP on 127.0.0.1, so other
 * processes (`nrp node start`, `nrp server start`, the CLI) reach the chain that this process controls with
 * snapshots and time travel. Single calls and batches; a body that is not JSON gets a JSON-RPC parse error.
 *
 * @example
 * const { network } = await import('hardhat');
 * const connection = await network.create();
 * const bridge = await serveProviderOverHttp(connection.provider);
 * // …point nodes at bridge.url…
 * await bridge.close();
 */
export async function serveProviderOverHttp(
  provider: Eip1193Provider,
  options: { port?: number } = {},
): Promise<RpcBridge> {
  const answer = async (request: RpcRequest) => {
    try {
      const result = await provider.request({ method: request.method, params: request.params ?? [] });
      return { jsonrpc: '2.0', id: request.id, result };
    } catch (err) {
      const error = err as { code?: number; message: string; data?: unknown };
      return {
        jsonrpc: '2.0',
        id: request.id,
        error: { code: error.code ?? -32603, message: error.message, data: error.data },
      };
    }
  };
  const server = createServer((req, res) => {
    const reply = (body: unknown) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body, (_k, v) => (typeof v === 'bigint' ? `0x${v.toString(16)}` : v)));
    };
    readBody(req)
      .then(async (body) => {
        let parsed: RpcRequest | RpcRequest[];
        try {
          parsed = JSON.parse(body) as RpcRequest | RpcRequest[];
        } catch {
          return reply({ jsonrpc: '2.0', id: null, error: { code: -32700, message: 'Parse error' } });
        }
        reply(Array.isArray(parsed) ? await Promise.all(parsed.map(answer)) : await answer(parsed));
      })
      .catch((error: Error) => {
        log('request failed: %s', error.message);
        if (!res.headersSent) res.writeHead(413).end();
      });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function readBody(req: IncomingMessage): Promise<string> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new Error(`request body over ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}
