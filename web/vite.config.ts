import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

/**
 * The governance web app. `nrp web` builds it with this configuration (src/web/build.ts) and serves it with
 * the /rpc, /deployment.json and /ipfs routes it needs. For work on the app with hot reload, run `nrp web` and,
 * in another terminal, `npx vite --config web/vite.config.ts`, which forwards those routes to it.
 */
const nrpWebUrl = process.env.NRP_WEB_URL ?? 'http://127.0.0.1:8787';

export default defineConfig({
  root: import.meta.dirname,
  // Relative asset paths, so the app works wherever it is served from.
  base: './',
  plugins: [react()],
  build: {
    outDir: '../dist/web',
    emptyOutDir: true,
    target: 'es2022',
    // One bundle of viem, multiformats and the list library: large, but loaded once and cached for good.
    chunkSizeWarningLimit: 2048,
  },
  server: {
    // `nrp web` accepts requests from its own origin only; the proxy speaks as that origin.
    proxy: Object.fromEntries(
      ['/rpc', '/deployment.json', '/ipfs', '/pins', '/api'].map((path) => [
        path,
        { target: nrpWebUrl, changeOrigin: true, headers: { origin: nrpWebUrl } },
      ]),
    ),
  },
});
