import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type HttpRoute, rawResponse } from '../utils/http-api.js';
import type { RatingServer } from './server.js';

/** Where the page, its script and its style sheet are. */
const ASSETS_DIR = join(dirname(fileURLToPath(import.meta.url)), 'dashboard');

/**
 * The dashboard's files by path: the page at `/`, its script and style, and cytoscape's ES module straight from
 * `node_modules` (no bundler, no CDN: the page works on a machine without internet).
 */
const ASSETS: Record<string, { file: () => string; contentType: string }> = {
  '/': { file: () => join(ASSETS_DIR, 'index.html'), contentType: 'text/html; charset=utf-8' },
  '/dashboard/app.js': { file: () => join(ASSETS_DIR, 'app.js'), contentType: 'text/javascript; charset=utf-8' },
  '/dashboard/style.css': { file: () => join(ASSETS_DIR, 'style.css'), contentType: 'text/css; charset=utf-8' },
  '/dashboard/cytoscape.mjs': { file: cytoscapeModule, contentType: 'text/javascript; charset=utf-8' },
};

/**
 * Everything the page loads comes from this server; styles may be set inline (cytoscape sizes its canvases that
 * way); nothing may frame it.
 */
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-cache',
};

/**
 * The dashboard's routes: the page at `GET /` and its assets under `/dashboard/`. The page reads the JSON API
 * (`/status`, `/topology`, `/verdicts`, `/evidence`, `/reports`, `/tips`, `/list`, `/registry`) and sends the
 * operator token, which it takes from the URL fragment (`#token=…`, see {@link dashboardUrl}), only with the
 * requests that change something.
 *
 * @example
 * startHttpApi([...readOnlyRoutes(server), ...dashboardRoutes(server)], { token });
 */
export function dashboardRoutes(_server: RatingServer): HttpRoute[] {
  // Read on first request, then kept: the files do not change while the server runs.
  const cache = new Map<string, Uint8Array>();
  return Object.entries(ASSETS).map(
    ([path, asset]): HttpRoute => ({
      method: 'GET',
      path,
      handle: async () => {
        let body = cache.get(path);
        if (!body) {
          body = new Uint8Array(await readFile(asset.file()));
          cache.set(path, body);
        }
        return rawResponse({ contentType: asset.contentType, body, headers: SECURITY_HEADERS });
      },
    }),
  );
}

function cytoscapeModule(): string {
  // `require.resolve` gives the CommonJS build; the ES module build sits beside it.
  const main = createRequire(import.meta.url).resolve('cytoscape');
  return join(dirname(main), 'cytoscape.esm.min.mjs');
}
