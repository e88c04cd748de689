import { mkdir, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { type Browser, chromium, type Page } from 'playwright-core';
import { propose } from '../../src/chain/governance.js';
import { registerServer } from '../../src/chain/registry.js';
import { entryId } from '../../src/lists/entry-id.js';
import { toPeerIdBytes } from '../../src/node/protocol/peer.js';
import { dashboardUrl } from '../../src/server/endpoint.js';
import type { RatingServer } from '../../src/server/server.js';
import { type ViemDao, viemDaoFixture } from '../chain/helpers.js';
import { networkHelpers } from '../helpers/dao.js';
import { removeDir } from '../helpers/dirs.js';
import { endpointOf, LISTED, populate, report, startTestServer, type TestNetwork } from './helpers/api-server.js';
import { listVersionCall, POLICY_CID } from './helpers/governance.js';
import { cidOf, signedEdge, testPeer } from './helpers/reports.js';

// The functions passed to `evaluate` run in the page. The project compiles without the DOM library, so the page's
// globals are declared here, for this file only.
// biome-ignore lint/suspicious/noExplicitAny: the page's globals, untyped in a Node project
declare const document: any, window: any, location: any, sessionStorage: any;

/** Screenshots for people to look at; the folder is gitignored. */
const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/', import.meta.url));

describe('Rating server dashboard, in a real browser', function () {
  this.timeout(120_000);
  const cleanups: (() => Promise<unknown>)[] = [];
  let browser: Browser;
  let dir: string;
  let server: RatingServer;
  let network: TestNetwork;
  let token: string;
  let dao: ViemDao;

  before(async () => {
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
  });

  after(async () => {
    await browser?.close();
  });

  beforeEach(async () => {
    dao = await networkHelpers.loadFixture(viemDaoFixture);
    dir = await mkdtemp(join(tmpdir(), 'nrp-dashboard-'));
    server = await startTestServer(dao, join(dir, 'server'), {
      registry: dao.registry,
      governor: dao.governor,
      proposals: { pollIntervalMs: 3_600_000 },
    });
    cleanups.push(() => server.stop());
    network = await populate(dao, server);
    await registerServer(dao.outsider, {
      registry: dao.registry,
      peerId: toPeerIdBytes(server.peerId),
      multiaddrs: server.getMultiaddrs(),
      policyCid: POLICY_CID,
      list: dao.list,
    });
    ({ token } = await endpointOf(join(dir, 'server')));
  });

  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
    await removeDir(dir);
  });

  /** A page in a fresh context (its own session storage), failing the test on any script error or CSP violation. */
  async function open(
    url: string,
    viewport = { width: 1280, height: 1000 },
  ): Promise<{ page: Page; problems: string[] }> {
    const context = await browser.newContext({ viewport });
    cleanups.push(() => context.close());
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    page.on('console', (message) => {
      if (/Content Security Policy|Uncaught/i.test(message.text())) problems.push(message.text());
    });
    // Nothing but this server: the page must work without internet.
    await page.route('**/*', (route) =>
      route.request().url().startsWith(server.httpUrl) ? route.continue() : route.abort(),
    );
    const response = await page.goto(url);
    expect(response?.status()).to.equal(200);
    expect(response?.headers()['content-security-policy']).to.include("script-src 'self'");
    return { page, problems };
  }

  async function submitTip(text: string): Promise<number> {
    const response = await fetch(`${server.httpUrl}/tips`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ cid: (await cidOf(text)).toString(), category: 'malware', reason: `tip about ${text}` }),
    });
    expect(response.status).to.equal(200);
    return ((await response.json()) as { id: number }).id;
  }

  async function tipStatus(id: number): Promise<string | undefined> {
    for (const status of ['pending', 'accepted', 'rejected']) {
      const response = await fetch(`${server.httpUrl}/tips?status=${status}`);
      const { tips } = (await response.json()) as { tips: { id: number }[] };
      if (tips.some((tip) => tip.id === id)) return status;
    }
    return undefined;
  }

  it('shows the graph, the verdicts and the tables, and accepts a tip with the token from the URL fragment', async () => {
    const { ids } = network;
    const tip = await submitTip('some malware');
    // A version in the vote, its payload in the server's store (as after a fetch from the proposer).
    const texts = [...LISTED, 'proposed for version 2'];
    const { call } = await listVersionCall(dao, server.helia.blockstore, {
      version: 2,
      ids: await Promise.all(texts.map(async (text) => entryId(await cidOf(text)))),
      added: 1,
      removed: 0,
      parent: server.list.current.payloadCid,
    });
    const { proposalId } = await propose(dao.holders[0], { governor: dao.governor, calls: [call], description: 'v2' });
    await server.proposals?.poll();
    const { page, problems } = await open(dashboardUrl({ url: server.httpUrl, token }));

    // The token left the address bar at once and stays in this tab only.
    await page.waitForFunction(() => !location.hash);
    expect(page.url()).to.not.include(token);
    expect(await page.evaluate(() => sessionStorage.getItem('nrp-operator-token'))).to.equal(token);
    await expectText(page, '#token-status', /Operator token set/);

    // The graph: every peer of the map, coloured by rating, shaped by whether it reports.
    await page.waitForSelector('#graph[data-nodes="4"][data-edges="3"]');
    await page.waitForSelector('body[data-refreshed]');
    expect(await page.locator('#graph canvas').count()).to.be.greaterThan(0);
    const nodes = await page.evaluate(() =>
      (window as DashboardWindow).nrpDashboard.cy.nodes().map((node) => ({
        id: node.id(),
        rating: node.data('rating'),
        shape: node.data('shape'),
        position: node.renderedPosition(),
      })),
    );
    const byId = new Map(nodes.map((node) => [node.id, node]));
    expect(byId.get(ids.distributor)).to.include({ rating: 'black', shape: 'diamond' });
    expect(byId.get(ids.first)).to.include({ rating: 'gray', shape: 'ellipse' });
    expect(byId.get(ids.second)).to.include({ rating: 'unrated', shape: 'ellipse' });
    expect(byId.get(ids.bystander)).to.include({ rating: 'unrated', shape: 'diamond' });
    await expectText(page, '#graph-summary', /4 peers \(2 reporting\), 3 attested edges/);

    // The black node is drawn where cytoscape says it is, and clicking it shows its verdict and evidence.
    const black = byId.get(ids.distributor)?.position as { x: number; y: number };
    expect(await darkPixelAt(page, black)).to.equal(true);
    await page.locator('#graph').click({ position: black });
    await page.waitForSelector(`#details[data-peer="${ids.distributor}"] .evidence li`);
    await expectText(page, '#details', /black/);
    await expectText(page, '#details', /does not report/);
    const evidenceLink = page.locator('#details .evidence a').first();
    expect(await evidenceLink.getAttribute('href')).to.match(/^\/evidence\/sighting%3A\d+$/);
    const evidence = await (await fetch(`${server.httpUrl}${await evidenceLink.getAttribute('href')}`)).json();
    expect(evidence).to.include({ fromPeer: ids.distributor, reporter: ids.first });

    // The tables.
    const verdictRows = page.locator('#verdicts-table tbody tr[data-peer]');
    await verdictRows.first().waitFor();
    expect(await verdictRows.count()).to.equal(2);
    expect(await page.locator(`#verdicts-table tr[data-peer="${ids.first}"]`).getAttribute('data-rating')).to.equal(
      'gray',
    );
    await expectText(page, `#verdicts-table tr[data-peer="${ids.distributor}"]`, /sighting:\d+/);
    await page.waitForSelector('#reports-table tbody tr:nth-child(2) td.number');
    expect(await page.locator('#reports-table tbody tr').count()).to.equal(2);
    await page.waitForSelector('#list-table tbody tr[data-version="1"]');
    await expectText(page, '#list-table tr[data-version="1"]', /in-force/);
    await page.waitForSelector(`#proposals-table tr[data-proposal="${proposalId}"][data-status="kept"]`);
    await expectText(page, `#proposals-table tr[data-proposal="${proposalId}"]`, /kept here/);
    await expectText(page, '#proposals-message', new RegExp(`Following Governor ${dao.governor}`));
    await page.waitForSelector('#registry-table tbody tr[data-server]');
    await expectText(page, '#registry-table', /this server/);
    await expectText(page, '#summary', /list version 1/);

    // The tip: pending, then accepted through the page, with the operator token.
    const pendingRow = page.locator(`#pending-tips-table tr[data-tip="${tip}"]`);
    await pendingRow.waitFor();
    await expectText(page, `#pending-tips-table tr[data-tip="${tip}"]`, /tip about some malware/);
    await page.getByRole('button', { name: `Accept tip ${tip}` }).click();
    await page.waitForSelector(`#decided-tips-table tr[data-tip="${tip}"][data-status="accepted"]`);
    expect(await pendingRow.count(), 'gone from the pending table').to.equal(0);
    await expectText(page, '#tips-message', new RegExp(`Tip ${tip} accepted`));
    expect(await tipStatus(tip)).to.equal('accepted');

    // Labels and names for every control.
    expect(await page.getByLabel('Operator token').count()).to.equal(1);
    for (const name of await page
      .locator('button')
      .evaluateAll((buttons) => buttons.map((b) => b.getAttribute('aria-label') ?? b.textContent?.trim() ?? ''))) {
      expect(name, 'every button has a name').to.not.equal('');
    }

    await mkdir(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard.png'), fullPage: true });
    expect(problems).to.deep.equal([]);
  });

  it('says so when the token is missing or wrong, and decides nothing', async () => {
    const tip = await submitTip('a wrong decision');

    const anonymous = await open(`${server.httpUrl}/`);
    await expectText(anonymous.page, '#token-status', /No operator token/);
    await anonymous.page.getByRole('button', { name: `Reject tip ${tip}` }).click();
    await expectText(anonymous.page, '#tips-message', /set the operator token/);
    expect(await tipStatus(tip)).to.equal('pending');

    const wrong = await open(dashboardUrl({ url: server.httpUrl, token: 'not-the-token' }));
    await wrong.page.getByRole('button', { name: `Reject tip ${tip}` }).click();
    await expectText(wrong.page, '#tips-message', /token is wrong \(401\)/);
    await expectText(wrong.page, '#token-status', /refused the operator token \(401\)/);
    await wrong.page.waitForSelector(`#pending-tips-table tr[data-tip="${tip}"]`);
    expect(await tipStatus(tip)).to.equal('pending');

    // Pasting the right token into the form fixes it.
    await wrong.page.getByLabel('Operator token').fill(token);
    await wrong.page.getByRole('button', { name: 'Use token' }).click();
    await wrong.page.getByRole('button', { name: `Reject tip ${tip}` }).click();
    await wrong.page.waitForSelector(`#decided-tips-table tr[data-tip="${tip}"][data-status="rejected"]`);
    expect(await tipStatus(tip)).to.equal('rejected');
    expect([...anonymous.problems, ...wrong.problems]).to.deep.equal([]);
  });

  it('fits a narrow window, and shows new peers at its next refresh', async () => {
    const { page, problems } = await open(dashboardUrl({ url: server.httpUrl, token }), { width: 400, height: 900 });
    await page.waitForSelector('#graph[data-nodes="4"]');
    await page.locator('#verdicts-table tbody tr[data-peer]').first().waitFor();
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow, 'no sideways scrolling of the page').to.be.at.most(0);
    const graph = await page.locator('#graph').boundingBox();
    const details = await page.locator('#details').boundingBox();
    expect(details?.y).to.be.greaterThan((graph?.y ?? 0) + (graph?.height ?? 0) - 1);
    await mkdir(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-narrow.png'), fullPage: true });

    // A new neighbour reported: the periodic refresh (every 10 s) adds it to the graph and the reports.
    const newcomer = await testPeer();
    await report(server, network.second, { seq: 2, edges: [await signedEdge(network.second, newcomer)] });
    await server.infer();
    await page.waitForSelector('#graph[data-nodes="5"][data-edges="4"]', { timeout: 15_000 });
    expect(await page.locator('#reports-table tbody tr').count()).to.equal(3);
    expect(problems).to.deep.equal([]);
  });
});

/** What the page exposes for tests: cytoscape's instance. */
interface DashboardWindow {
  nrpDashboard: {
    cy: {
      nodes(): {
        map<T>(
          fn: (node: { id(): string; data(key: string): string; renderedPosition(): { x: number; y: number } }) => T,
        ): T[];
      };
    };
  };
}

async function expectText(page: Page, selector: string, pattern: RegExp) {
  await page
    .waitForFunction(
      ({ selector, source, flags }) =>
        new RegExp(source, flags).test(document.querySelector(selector)?.textContent ?? ''),
      { selector, source: pattern.source, flags: pattern.flags },
      { timeout: 10_000 },
    )
    .catch(async () => {
      const text = await page
        .locator(selector)
        .first()
        .textContent()
        .catch(() => '(missing)');
      expect.fail(`${selector} does not match ${pattern}: ${text}`);
    });
}

/** Whether one of the graph's canvases has a dark pixel at `position` (CSS pixels inside the graph). */
function darkPixelAt(page: Page, position: { x: number; y: number }): Promise<boolean> {
  return page.evaluate(({ x, y }) => {
    for (const canvas of document.querySelectorAll('#graph canvas')) {
      const scale = canvas.width / canvas.getBoundingClientRect().width;
      const context = canvas.getContext('2d');
      const pixel = context?.getImageData(Math.round(x * scale), Math.round(y * scale), 1, 1).data;
      if (pixel && pixel[3] > 200 && pixel[0] < 80 && pixel[1] < 80 && pixel[2] < 80) return true;
    }
    return false;
  }, position);
}
