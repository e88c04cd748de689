import { readFile } from 'node:fs/promises';
import { extname, join, normalize, sep } from 'node:path';
import { logger } from '@libp2p/logger';
import type { DaoDeployment } from '../chain/deployment-record.js';
import type { NrpHelia } from '../ipfs/helia.js';
import { MAX_BLOCK_BYTES } from '../lists/payload.js';
import {
  type HttpApi,
  HttpApiError,
  type HttpRequest,
  type HttpRoute,
  rawResponse,
  startHttpApi,
} from '../utils/http-api.js';
import { BlockGateway } from './block-gateway.js';
import { RpcProxy, redactRpcUrl } from './rpc-proxy.js';

const log = logger('nrp:web');

/** Where `nrp web` listens by default, on 127.0.0.1. */
export const DEFAULT_WEB_PORT = 8787;

export interface WebServerInit {
  /** Port on 127.0.0.1; 0 picks a free one. Default {@link DEFAULT_WEB_PORT}. */
  port?: number;
  /** The built app (see `ensureWebBuild`). */
  staticDir: string;
  /** The chain's JSON-RPC endpoint, reached through `/rpc`. */
  rpcUrl: string;
  /** The DAO the app governs, served as `/deployment.json`; null when none is configured (the app says so). */
  deployment: DaoDeployment | null;
  /** IPFS peers to dial again when a block is wanted and none is connected. */
  peers?: readonly string[];
  /** Milliseconds to wait for an IPFS peer to send a block. Default 30,000. */
  blockTimeoutMs?: number;
  /** Milliseconds to wait for the chain RPC. Default 30,000. */
  rpcTimeoutMs?: number;
}

export interface WebServerComponents {
  /** This computer's IPFS node: it serves and fetches payload blocks, and pins payloads proposed in the app. */
  helia: NrpHelia;
}

export type WebServer = HttpApi;

/** A route, and for a POST the content type its body must have. */
type WebRoute = HttpRoute & { contentType?: string };

// The app needs WebAssembly for keccak (hash-wasm) and inline styles for React's style attributes; it talks
// to its own origin only, and no other site may frame it.
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self' 'wasm-unsafe-eval'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.txt': 'text/plain; charset=utf-8',
};

/**
 * Serves the governance web app on 127.0.0.1 with what it needs from this computer:
 *
 * - `/` — the built app; `/deployment.json` — the DAO's addresses, chain id and first block;
 * - `POST /rpc` — a same-origin proxy to the chain's JSON-RPC (see {@link RpcProxy});
 * - `GET /ipfs/<cid>` — raw blocks from the Helia node, 504 when no peer sends them in time;
 * - `POST /ipfs/<cid>` and `POST /pins/<cid>` — the blocks of a payload proposed in the app, checked and pinned;
 * - `/api/status` — this node's IPFS identity and where the RPC is (its host only).
 *
 * Every request must name this server as its host (against DNS rebinding), and every POST must come from the
 * app's own origin with a content type no plain HTML form can send (against cross-site requests).
 *
 * @example
 * const server = await startWebServer({ staticDir, rpcUrl, deployment, port: 0 }, { helia });
 * console.log(`open ${server.url}`);
 */
export async function startWebServer(init: WebServerInit, components: WebServerComponents): Promise<WebServer> {
  const rpc = new RpcProxy({ rpcUrl: init.rpcUrl, timeoutMs: init.rpcTimeoutMs });
  const blocks = new BlockGateway({ peers: init.peers, timeoutMs: init.blockTimeoutMs }, components);
  let port = 0;
  const guard = (route: WebRoute): HttpRoute => ({
    ...route,
    handle: (request) => {
      checkHost(request, port);
      if (route.method === 'POST') checkPost(request, port, route.contentType ?? 'application/json');
      return route.handle(request);
    },
  });
  const cid = /^\/ipfs\/([^/]+)$/;
  const routes: WebRoute[] = [
    {
      method: 'GET',
      path: '/deployment.json',
      handle: () => {
        if (!init.deployment) {
          throw new HttpApiError(
            'no DAO deployment is configured: start nrp web with --deployment <file> (or NRP_DEPLOYMENT), or run ' +
              '`npm run chain` for a local one',
            404,
          );
        }
        return init.deployment;
      },
    },
    {
      method: 'GET',
      path: '/api/status',
      handle: () => ({ rpc: redactRpcUrl(init.rpcUrl), ipfs: blocks.status() }),
    },
    {
      method: 'POST',
      path: '/rpc',
      handle: async (request) => rpc.forward(await request.bytes(4 * 1024 * 1024)),
    },
    {
      method: 'GET',
      path: cid,
      handle: async (request) =>
        rawResponse({
          contentType: 'application/vnd.ipld.raw',
          body: await blocks.get(request.params[0]),
          headers: { 'cache-control': 'public, max-age=31536000, immutable', 'x-content-type-options': 'nosniff' },
        }),
    },
    {
      method: 'POST',
      path: cid,
      contentType: 'application/vnd.ipld.raw',
      handle: async (request) => {
        const stored = await blocks.put(request.params[0], await request.bytes(MAX_BLOCK_BYTES));
        return { cid: stored.toString() };
      },
    },
    {
      method: 'POST',
      path: /^\/pins\/([^/]+)$/,
      handle: async (request) => {
        const { cid: root, pinned } = await blocks.pin(request.params[0]);
        return { cid: root.toString(), pinned };
      },
    },
    {
      method: 'GET',
      path: /^(\/.*)$/,
      handle: (request) => serveStatic(init.staticDir, request.params[0]),
    },
  ];
  const api = await startHttpApi(routes.map(guard), { port: init.port ?? DEFAULT_WEB_PORT });
  port = Number(new URL(api.url).port);
  log('serving the web app on %s', api.url);
  return api;
}

/** Refuses a request whose Host is not this server: a DNS-rebinding page would name its own domain. */
function checkHost(request: HttpRequest, port: number) {
  const host = request.raw.headers.host ?? '';
  if (![`127.0.0.1:${port}`, `localhost:${port}`].includes(host.toLowerCase())) {
    throw new HttpApiError(`this server answers to 127.0.0.1:${port} and localhost:${port} only`, 403);
  }
}

/**
 * Refuses a POST from another site. A browser sends Origin with every POST, and a content type other than a
 * form's makes it ask this server first (CORS), which it never allows.
 */
function checkPost(request: HttpRequest, port: number, contentType: string) {
  const origin = request.raw.headers.origin;
  if (origin !== undefined && ![`http://127.0.0.1:${port}`, `http://localhost:${port}`].includes(origin)) {
    throw new HttpApiError('requests from other sites are refused', 403);
  }
  const type = (request.raw.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  if (type !== contentType) throw new HttpApiError(`the body must be sent as ${contentType}`, 415);
}

async function serveStatic(staticDir: string, path: string) {
  const relative = path === '/' ? 'index.html' : normalize(path.slice(1));
  if (relative.startsWith('..') || relative.split(sep).some((part) => part.startsWith('.'))) {
    throw new HttpApiError(`no such resource: ${path}`, 404);
  }
  const type = CONTENT_TYPES[extname(relative)];
  let body: Uint8Array;
  try {
    body = await readFile(join(staticDir, relative));
  } catch (error) {
    if (relative === 'index.html') {
      throw new HttpApiError(`the web app is not built in ${staticDir}: run nrp web, which builds it`, 503);
    }
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' || (error as NodeJS.ErrnoException).code === 'EISDIR') {
      throw new HttpApiError(`no such resource: ${path}`, 404);
    }
    throw error;
  }
  const headers: Record<string, string> = { 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer' };
  if (relative === 'index.html') {
    headers['content-security-policy'] = CONTENT_SECURITY_POLICY;
    headers['cache-control'] = 'no-cache';
  } else if (relative.startsWith(`assets${sep}`)) {
    // Vite names assets by their content hash.
    headers['cache-control'] = 'public, max-age=31536000, immutable';
  }
  return rawResponse({ contentType: type ?? 'application/octet-stream', body, headers });
}
