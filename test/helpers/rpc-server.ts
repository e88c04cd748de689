import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connection } from './dao.js';

interface RpcRequest {
  jsonrpc: '2.0';
  id: number | string | null;
  method: string;
  params?: unknown[];
}

/**
 * Serves the in-process Hardhat chain over HTTP on 127.0.0.1, so the `nrp`
 * command (in this process or a child) reaches the same chain the tests
 * control with snapshots and time travel.
 */
export async function serveChainOverHttp(): Promise<{ url: string; close: () => Promise<void> }> {
  const answer = async (request: RpcRequest) => {
    try {
      const result = await connection.provider.request({ method: request.method, params: request.params ?? [] });
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
    let body = '';
    req.on('data', (chunk) => {
      body += chunk;
    });
    req.on('end', async () => {
      const parsed = JSON.parse(body) as RpcRequest | RpcRequest[];
      const response = Array.isArray(parsed) ? await Promise.all(parsed.map(answer)) : await answer(parsed);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(response, (_k, v) => (typeof v === 'bigint' ? `0x${v.toString(16)}` : v)));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
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
