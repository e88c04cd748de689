import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { type DaoDeployment, daoContractsOf } from '../../src/chain/deployment.js';
import { createNrpHelia, type NrpHelia } from '../../src/ipfs/helia.js';
import { ensureWebBuild } from '../../src/web/build.js';
import { startWebServer, type WebServer } from '../../src/web/server.js';
import type { Dao } from '../helpers/dao.js';

/** Screenshots of key screens, kept as CI artifacts (gitignored). */
export const ARTIFACTS = join(import.meta.dirname, '../../test-artifacts/web');

/** Headless Debian Chromium, as CI installs it. */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}

/** The deployment record of `dao`, as `nrp web` serves it. */
export async function deploymentOf(dao: Dao, overrides: Partial<DaoDeployment> = {}): Promise<DaoDeployment> {
  return {
    network: 'test',
    chainId: 31337,
    deploymentId: 'test',
    fromBlock: 0,
    deployedAt: new Date().toISOString(),
    contracts: await daoContractsOf(dao),
    ...overrides,
  };
}

export interface TestWeb {
  url: string;
  server: WebServer;
  /** The web server's own IPFS node. */
  helia: NrpHelia;
  close(): Promise<void>;
}

/**
 * `nrp web`'s server as the command starts it: the built app, the chain through /rpc, and an in-memory Helia
 * node connected to `peers`.
 */
export async function startTestWeb(init: {
  rpcUrl: string;
  deployment: DaoDeployment | null;
  peers?: string[];
  blockTimeoutMs?: number;
}): Promise<TestWeb> {
  const { outDir } = await ensureWebBuild();
  const helia = await createNrpHelia({ bootstrap: init.peers ?? [] });
  const server = await startWebServer(
    {
      port: 0,
      staticDir: outDir,
      rpcUrl: init.rpcUrl,
      deployment: init.deployment,
      peers: init.peers,
      blockTimeoutMs: init.blockTimeoutMs ?? 5_000,
      rpcTimeoutMs: 10_000,
    },
    { helia },
  );
  return {
    url: server.url,
    server,
    helia,
    close: async () => {
      await server.close();
      await helia.stop();
    },
  };
}

/** Saves a screenshot of the whole page (or of its top `height` pixels) as test-artifacts/web/<name>.png. */
export async function screenshot(page: Page, name: string, height?: number): Promise<void> {
  await mkdir(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, `${name}.png`);
  if (height === undefined) {
    await page.screenshot({ path, fullPage: true });
    return;
  }
  const width = page.viewportSize()?.width ?? 1280;
  await page.screenshot({ path, fullPage: true, clip: { x: 0, y: 0, width, height } });
}

/** Picks Hardhat development account `index` in the wallet panel. */
export async function useDevelopmentAccount(page: Page, index: number): Promise<void> {
  const button = page.locator('.wallet-button');
  if ((await button.getAttribute('aria-expanded')) !== 'true') await button.click();
  await page.getByLabel('Development account', { exact: true }).selectOption(String(index));
  await page.getByRole('button', { name: 'Use development account' }).click();
  await page.locator('.wallet-button', { hasText: `development account ${index}` }).waitFor();
}

/** Collects the page's uncaught errors and console errors, so a test can assert there were none. */
export function watchPageErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(`pageerror: ${error.message}`));
  return errors;
}
