import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { logger } from '@libp2p/logger';

const log = logger('nrp:http');

/** Largest JSON or form body a route reads by default. */
export const DEFAULT_MAX_BODY_BYTES = 64 * 1024;

/** An HTTP request the API cannot answer; `status` is the HTTP status it gets. */
export class HttpApiError extends Error {
  override name = 'HttpApiError';
  constructor(
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

/** The HTTP API could not listen on its port, typically because another process holds it. */
export class HttpListenError extends Error {
  override name = 'HttpListenError';
}

/** What a route handler gets. */
export interface HttpRequest {
  method: string;
  /** The decoded path, e.g. `/tips/3/accept`. */
  path: string;
  query: URLSearchParams;
  /** The captures of the route's pattern, e.g. `['3']` for `/^\/tips\/(\d+)\/accept$/`. */
  params: string[];
  /** Reads the body as JSON (or an HTML form, `application/x-www-form-urlencoded`, as an object of strings). */
  json(): Promise<unknown>;
  /** Reads the raw body, refusing more than `maxBytes` (default {@link DEFAULT_MAX_BODY_BYTES}). */
  bytes(maxBytes?: number): Promise<Uint8Array>;
  raw: IncomingMessage;
}

/** A response that is not JSON: an HTML page, a script, Prometheus text. */
export interface HttpRawResponse {
  status?: number;
  contentType: string;
  body: string | Uint8Array;
  headers?: Record<string, string>;
}

export interface HttpRoute {
  method: 'GET' | 'POST';
  /** An exact path, or a pattern whose captures become `params`. */
  path: string | RegExp;
  /** Query parameters the route takes; any other is refused, so a typo is an error rather than silently ignored. */
  query?: readonly string[];
  /** Whether the route needs the operator's bearer token: every route that changes something. */
  auth?: boolean;
  /** Returns the JSON body (status 200), or a {@link HttpRawResponse}. Throw {@link HttpApiError} to refuse. */
  handle(request: HttpRequest): unknown;
}

export interface HttpApiOptions {
  /** Port on 127.0.0.1; 0 (the default) picks a free one. */
  port?: number;
  /** The bearer token of routes with `auth`. Without one, such routes answer 401 to everyone. */
  token?: string;
}

export interface HttpApi {
  /** e.g. `http://127.0.0.1:8080` */
  url: string;
  close(): Promise<void>;
}

/** Marks a handler's result as a raw response rather than JSON. */
export function rawResponse(response: HttpRawResponse): HttpRawResponse & { [RAW]: true } {
  return { ...response, [RAW]: true };
}

const RAW = Symbol('raw response');

/**
 * Serves `routes` over HTTP on 127.0.0.1 only. Every error is a JSON `{ error }` with a fitting status: 400 for a
 * bad request (even bytes that are not HTTP), 401 without the token a route needs, 404 for an unknown path, 405
 * for another method, 413 for an oversized body, 500 (logged) for a bug. The server keeps serving through all of
 * them.
 *
 * @example
 * const api = await startHttpApi([{ method: 'GET', path: '/status', handle: () => ({ ok: true }) }], { port: 8080 });
 */
export async function startHttpApi(routes: readonly HttpRoute[], options: HttpApiOptions = {}): Promise<HttpApi> {
  const port = options.port ?? 0;
  const http: Server = createServer((req, res) => {
    dispatch(routes, options.token, req, res).catch((error) => {
      const status = error instanceof HttpApiError ? error.status : 500;
      if (status === 500) log.error('HTTP %s %s failed: %e', req.method, req.url, error);
      if (res.headersSent) return res.destroy();
      sendJson(res, status, { error: status === 500 ? 'internal error' : (error as Error).message });
    });
  });
  http.on('clientError', (error: NodeJS.ErrnoException, socket) => {
    if (error.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const body = JSON.stringify({ error: `malformed HTTP request: ${error.code ?? error.message}` });
    socket.end(
      `HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
        `connection: close\r\n\r\n${body}`,
    );
  });
  await new Promise<void>((resolve, reject) => {
    const fail = (error: NodeJS.ErrnoException) => {
      reject(
        new HttpListenError(
          `Could not serve the HTTP API on 127.0.0.1:${port} (${error.code ?? error.message}). ` +
            'Free the port or choose another one.',
          { cause: error },
        ),
      );
    };
    http.once('error', fail);
    http.listen(port, '127.0.0.1', () => {
      http.off('error', fail);
      resolve();
    });
  });
  const address = http.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${address.port}`,
    close: () =>
      new Promise((resolve) => {
        http.closeAllConnections();
        http.close(() => resolve());
      }),
  };
}

async function dispatch(
  routes: readonly HttpRoute[],
  token: string | undefined,
  req: IncomingMessage,
  res: ServerResponse,
) {
  let url: URL;
  let path: string;
  try {
    url = new URL(req.url ?? '/', 'http://127.0.0.1');
    path = decodeURIComponent(url.pathname);
  } catch {
    throw new HttpApiError(`cannot parse the request target ${req.url}`);
  }
  const method = req.method === 'HEAD' ? 'GET' : (req.method ?? 'GET');
  const matching = routes.flatMap((route) => {
    const params = match(route.path, path);
    return params ? [{ route, params }] : [];
  });
  if (matching.length === 0) throw new HttpApiError(`no such resource: ${path}`, 404);
  const found = matching.find(({ route }) => route.method === method);
  if (!found) {
    res.setHeader('allow', [...new Set(matching.map(({ route }) => route.method))].join(', '));
    throw new HttpApiError(`${req.method} is not allowed on ${path}`, 405);
  }
  const { route, params } = found;
  if (route.auth && !hasToken(req, token)) {
    throw new HttpApiError('this request needs the operator token (Authorization: Bearer …)', 401);
  }
  for (const key of url.searchParams.keys()) {
    if (!route.query?.includes(key)) throw new HttpApiError(`unknown query parameter "${key}"`);
  }
  const result = await route.handle({
    method,
    path,
    query: url.searchParams,
    params,
    json: () => readJson(req),
    bytes: (maxBytes) => readBody(req, maxBytes ?? DEFAULT_MAX_BODY_BYTES),
    raw: req,
  });
  if (isRaw(result)) {
    const body = typeof result.body === 'string' ? Buffer.from(result.body) : result.body;
    res.writeHead(result.status ?? 200, {
      'content-type': result.contentType,
      'content-length': body.byteLength,
      ...result.headers,
    });
    res.end(req.method === 'HEAD' ? undefined : body);
    return;
  }
  sendJson(res, 200, result);
}

function match(pattern: string | RegExp, path: string): string[] | undefined {
  if (typeof pattern === 'string') return pattern === path ? [] : undefined;
  const found = pattern.exec(path);
  return found ? found.slice(1) : undefined;
}

function hasToken(req: IncomingMessage, token: string | undefined): boolean {
  if (!token) return false;
  const given = Buffer.from(req.headers.authorization ?? '');
  const expected = Buffer.from(`Bearer ${token}`);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

function isRaw(value: unknown): value is HttpRawResponse {
  return typeof value === 'object' && value !== null && RAW in value;
}

async function readBody(req: IncomingMessage, max: number): Promise<Uint8Array> {
  const declared = Number(req.headers['content-length']);
  if (declared > max) throw new HttpApiError(`the body is larger than ${max} bytes`, 413);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > max) throw new HttpApiError(`the body is larger than ${max} bytes`, 413);
    chunks.push(chunk);
  }
  return new Uint8Array(Buffer.concat(chunks));
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const text = Buffer.from(await readBody(req, DEFAULT_MAX_BODY_BYTES)).toString('utf8');
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim();
  if (type === 'application/x-www-form-urlencoded') return Object.fromEntries(new URLSearchParams(text));
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new HttpApiError(`the body is not valid JSON: ${(error as Error).message}`);
  }
}

/** Sends `body` as JSON, with bigints as decimal strings. */
export function sendJson(res: ServerResponse, status: number, body: unknown) {
  const json = JSON.stringify(body, (_key, value) => (typeof value === 'bigint' ? value.toString() : value));
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json) });
  res.end(res.req.method === 'HEAD' ? undefined : json);
}
