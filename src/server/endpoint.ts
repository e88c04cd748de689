import { join } from 'node:path';
import type { AbortOptions } from '@libp2p/interface';
import { readJsonFile } from '../utils/json-file.js';

/**
 * Where a running server's HTTP API answers: `<dataDir>/server.json`, mode 0600. The CLI finds a running server
 * through it without loading the server itself.
 */
export interface ServerEndpoint {
  url: string;
  /** The operator's bearer token for the routes that change something (tips, …); the file is mode 0600. */
  token: string;
  peerId: string;
  pid: number;
}

/** The file a running server writes its HTTP endpoint to. */
export function serverEndpointFile(dataDir: string): string {
  return join(dataDir, 'server.json');
}

/**
 * The dashboard's address with the operator token in the fragment, which browsers never send to a server nor
 * put in a `Referer`: `http://127.0.0.1:8790/#token=…`.
 */
export function dashboardUrl(endpoint: Pick<ServerEndpoint, 'url' | 'token'>): string {
  return `${endpoint.url}/#token=${encodeURIComponent(endpoint.token)}`;
}

/** The HTTP endpoint a server running on `dataDir` wrote (`server.json`), if any. */
export async function readServerEndpoint(dataDir: string): Promise<ServerEndpoint | undefined> {
  return readJsonFile<ServerEndpoint>(serverEndpointFile(dataDir));
}

/**
 * The dashboard address of the server running on `dataDir`, if one answers at the endpoint it wrote and its
 * `/status` names the same peer (a `server.json` left behind by a killed server answers nothing).
 *
 * @example
 * const url = await runningDashboardUrl('./server-data', { signal: AbortSignal.timeout(2_000) });
 */
export async function runningDashboardUrl(dataDir: string, options: AbortOptions = {}): Promise<string | undefined> {
  const endpoint = await readServerEndpoint(dataDir).catch(() => undefined);
  if (!endpoint?.url || !endpoint.token) return undefined;
  try {
    const response = await fetch(`${endpoint.url}/status`, { signal: options.signal ?? AbortSignal.timeout(2_000) });
    const status = (await response.json()) as { peerId?: unknown };
    return response.ok && status.peerId === endpoint.peerId ? dashboardUrl(endpoint) : undefined;
  } catch {
    return undefined;
  }
}
