import { randomBytes } from 'node:crypto';
import { chmod, readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { logger } from '@libp2p/logger';
import { readJsonFile, writeJsonFile } from '../utils/json-file.js';

const log = logger('nrp:node:control');

/** Where a running node's control API is, and the token it takes; `<dataDir>/control.json`, mode 0600. */
export interface ControlEndpoint {
  url: string;
  token: string;
  pid: number;
}

/** What the control API can ask of a running node. */
export interface ControlHandlers {
  status(): Promise<unknown>;
  why(peer: string): Promise<unknown>;
  add(bytes: Uint8Array, name?: string): Promise<unknown>;
}

export class ControlApiError extends Error {
  override name = 'ControlApiError';
  constructor(
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

const MAX_UPLOAD_BYTES = 256 * 2 ** 20;

/**
 * The local control API of a running node, for `nrp node add`, `status` and
 * `why`: HTTP on 127.0.0.1 only, every request carrying a random bearer
 * token that only the node's user can read.
 */
export async function startControlServer(
  handlers: ControlHandlers,
  options: { dataDir: string; port?: number },
): Promise<{ endpoint: ControlEndpoint; close: () => Promise<void> }> {
  const token = randomBytes(24).toString('hex');
  const server = createServer((req, res) => {
    handle(req, res, token, handlers).catch((error) => {
      const status = error instanceof ControlApiError ? error.status : 500;
      if (status === 500) log.error('control request failed: %e', error);
      send(res, status, { error: (error as Error).message });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  const endpoint: ControlEndpoint = { url: `http://127.0.0.1:${port}`, token, pid: process.pid };
  const path = controlFile(options.dataDir);
  await writeJsonFile(path, endpoint);
  await chmod(path, 0o600);
  return {
    endpoint,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function handle(req: IncomingMessage, res: ServerResponse, token: string, handlers: ControlHandlers) {
  if (req.headers.authorization !== `Bearer ${token}`) throw new ControlApiError('missing or wrong token', 401);
  const url = new URL(req.url ?? '/', 'http://127.0.0.1');
  if (req.method === 'GET' && url.pathname === '/status') return send(res, 200, await handlers.status());
  if (req.method === 'GET' && url.pathname.startsWith('/why/')) {
    return send(res, 200, await handlers.why(decodeURIComponent(url.pathname.slice('/why/'.length))));
  }
  if (req.method === 'POST' && url.pathname === '/content') {
    const bytes = await readBody(req, MAX_UPLOAD_BYTES);
    return send(res, 200, await handlers.add(bytes, url.searchParams.get('name') ?? undefined));
  }
  throw new ControlApiError(`no such request: ${req.method} ${url.pathname}`, 404);
}

async function readBody(req: IncomingMessage, max: number): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > max) throw new ControlApiError(`the upload is larger than ${max} bytes`, 413);
    chunks.push(chunk);
  }
  return new Uint8Array(Buffer.concat(chunks));
}

function send(res: ServerResponse, status: number, body: unknown) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body, (_key, value) => (typeof value === 'bigint' ? value.toString() : value)));
}

export function controlFile(dataDir: string): string {
  return join(dataDir, 'control.json');
}

/** No running node answers for this data dir. */
export class NodeNotRunningError extends Error {
  override name = 'NodeNotRunningError';
}

/**
 * Calls the control API of the node running on `dataDir`.
 *
 * @example
 * const status = await callControl(dataDir, 'GET', '/status');
 */
export async function callControl(
  dataDir: string,
  method: 'GET' | 'POST',
  path: string,
  body?: Uint8Array,
): Promise<unknown> {
  const endpoint = await readJsonFile<ControlEndpoint>(controlFile(dataDir)).catch(() => undefined);
  if (!endpoint) {
    throw new NodeNotRunningError(`No node is running on ${dataDir}: start one with \`nrp node start\`.`);
  }
  let response: Response;
  try {
    response = await fetch(`${endpoint.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${endpoint.token}` },
      body: body ? Buffer.from(body) : undefined,
    });
  } catch (error) {
    throw new NodeNotRunningError(
      `The node of ${dataDir} (pid ${endpoint.pid}) does not answer at ${endpoint.url}; is it still running?`,
      { cause: error },
    );
  }
  const result = (await response.json()) as { error?: string };
  if (!response.ok) throw new ControlApiError(result.error ?? `HTTP ${response.status}`, response.status);
  return result;
}

/** Reads a file to add, with a clear error. */
export async function readUpload(path: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(path));
  } catch (error) {
    throw new ControlApiError(`Cannot read ${path}: ${(error as NodeJS.ErrnoException).code}`);
  }
}
