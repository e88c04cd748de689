import { randomBytes } from 'node:crypto';
import { chmod, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HttpApiError, startHttpApi } from '../utils/http-api.js';
import { readJsonFile, writeJsonFile } from '../utils/json-file.js';

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

/** A control request the node refuses (with `status`), or, on the caller's side, the node's refusal. */
export class ControlApiError extends HttpApiError {
  override name = 'ControlApiError';
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
  const api = await startHttpApi(
    [
      { method: 'GET', path: '/status', auth: true, handle: () => handlers.status() },
      { method: 'GET', path: /^\/why\/(.+)$/, auth: true, handle: ({ params }) => handlers.why(params[0] as string) },
      {
        method: 'POST',
        path: '/content',
        query: ['name'],
        auth: true,
        handle: async ({ bytes, query }) => handlers.add(await bytes(MAX_UPLOAD_BYTES), query.get('name') ?? undefined),
      },
    ],
    { port: options.port, token },
  );
  const endpoint: ControlEndpoint = { url: api.url, token, pid: process.pid };
  const path = controlFile(options.dataDir);
  await writeJsonFile(path, endpoint);
  await chmod(path, 0o600);
  return { endpoint, close: () => api.close() };
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
