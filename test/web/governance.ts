import { expect } from 'chai';
import { CID } from 'multiformats/cid';
import * as raw from 'multiformats/codecs/raw';
import { sha256 } from 'multiformats/hashes/sha2';
import type { Browser, Page } from 'playwright-core';
import ListForkModule from '../../ignition/modules/ListFork.js';
import { createNrpHelia, type NrpHelia } from '../../src/ipfs/helia.js';
import { pinRoot } from '../../src/ipfs/pins.js';
import { entryId, entryIdToHex } from '../../src/lists/entry-id.js';
import { encodePayload } from '../../src/lists/payload.js';
import {
  type Dao,
  deployDao,
  ethers,
  ignition,
  LOCAL_AMOUNTS,
  LOCAL_PARAMETERS,
  networkHelpers,
} from '../helpers/dao.js';
import { serveChainOverHttp } from '../helpers/rpc-server.js';
import {
  deploymentOf,
  launchBrowser,
  screenshot,
  startTestWeb,
  type TestWeb,
  useDevelopmentAccount,
  watchPageErrors,
} from './helpers.js';

async function contentCid(text: string): Promise<string> {
  return CID.create(1, raw.code, await sha256.digest(new TextEncoder().encode(text))).toString();
}

/**
 * The token holder's whole path in a real browser (headless Chromium) against the in-process chain and real
 * Helia nodes: connect, delegate, propose a list change from the browser, vote it through with two holders,
 * queue and execute it, see the new version, and be warned loudly about a tampered payload.
 */
describe('web app: the governance path in a browser', function () {
  this.timeout(180_000);
  let dao: Dao;
  let rpc: Awaited<ReturnType<typeof serveChainOverHttp>>;
  let web: TestWeb;
  /** Another user's IPFS node, which the web server has as its peer. */
  let peer: NrpHelia;
  let browser: Browser;
  let page: Page;
  let pageErrors: string[];
  let cids: string[];
  let proposalUrl: string;

  before(async () => {
    dao = await deployDao();
    rpc = await serveChainOverHttp();
    peer = await createNrpHelia();
    web = await startTestWeb({
      rpcUrl: rpc.url,
      deployment: await deploymentOf(dao),
      peers: peer.libp2p.getMultiaddrs().map(String),
    });
    browser = await launchBrowser();
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    pageErrors = watchPageErrors(page);
    cids = [await contentCid('web: bad one'), await contentCid('web: bad two')];
  });

  after(async () => {
    await browser?.close();
    await web?.close();
    await peer?.stop();
    await rpc?.close();
  });

  afterEach(async function () {
    if (this.currentTest?.state === 'failed' && page) await screenshot(page, `failed-${this.currentTest.title}`);
  });

  it('1. connects a development account, labelled as such, on the local chain', async () => {
    await page.goto(web.url);
    await page.getByRole('heading', { name: 'Governance', level: 1 }).waitFor();
    await page.getByRole('button', { name: 'Connect wallet' }).click();
    await page.getByRole('heading', { name: 'Development accounts (local chain only)' }).waitFor();
    await page.getByText('never use them on a real network').waitFor();
    await screenshot(page, '01-connect');
    await useDevelopmentAccount(page, 4);
    await page.getByText('100,000 votes').waitFor();
    expect(pageErrors).to.deep.equal([]);
  });

  it('2. delegates: a holder who never delegated already votes with their balance', async () => {
    const [, , , holder3] = dao.holders;
    await page.goto(`${web.url}/#/account`);
    const status = page.getByTestId('delegation-status');
    await status.getByText('You vote with your own balance').waitFor();
    expect(await page.getByTestId('voting-power').textContent()).to.equal('100,000 votes');

    await page.getByLabel('Let this address vote with your tokens').fill(holder3.address);
    await page.getByRole('button', { name: 'Delegate', exact: true }).click();
    await page.getByText('Delegation: done.').waitFor();
    await status.getByText('votes with your tokens').waitFor();
    expect(await status.textContent()).to.contain(holder3.address);
    expect(await page.getByTestId('voting-power').textContent()).to.equal('0 votes');
    await screenshot(page, '02-delegated');
    expect(await dao.token.delegates(dao.holders[4].address)).to.equal(holder3.address);

    await useDevelopmentAccount(page, 3);
    await page.getByTestId('voting-power').getByText('200,000 votes').waitFor();
  });

  it('3. creates a proposal adding two CIDs, built and pinned from the browser', async () => {
    await useDevelopmentAccount(page, 0);
    await page.goto(`${web.url}/#/propose`);
    await page.getByLabel('Entries to add').fill(`# found in the wild\n${cids.join('\n')}\nnot-a-cid\n`);
    await page.getByLabel('Category of the added entries').fill('malware');
    await page.getByLabel('Reason, shown to voters with every added entry').fill('Ransomware dropper');
    await page.getByRole('button', { name: 'Review the change' }).click();
    const summary = page.getByTestId('review-summary');
    await summary.waitFor();
    expect(await summary.textContent()).to.contain('+2 −0');
    await page.getByText('“not-a-cid” — not a CID, entry id or IPIP-383 rule').waitFor();
    await screenshot(page, '03-propose-review');

    await page.getByRole('button', { name: 'Submit the proposal' }).click();
    await page.getByText('Proposal: done.').waitFor({ timeout: 60_000 });
    await page.getByTestId('new-proposal-link').click();
    await page.getByTestId('payload-verified').waitFor({ timeout: 60_000 });
    proposalUrl = page.url();
    const added = page.getByTestId('added-entries');
    for (const cid of cids) await added.getByText(entryIdToHex(entryId(cid))).waitFor();
    expect(await added.textContent()).to.contain('Ransomware dropper');
    // The web server's IPFS node pinned the payload: peers can fetch it from there during the vote.
    let pins = 0;
    for await (const _ of web.helia.pins.ls()) pins++;
    expect(pins).to.equal(1);
  });

  it('4. votes for it with enough holders to pass it, with a reason', async () => {
    await networkHelpers.mine(); // voting opens once the snapshot is in the past
    await page.goto(proposalUrl);
    await voteFor(page, 'Matches policy §2');
    await useDevelopmentAccount(page, 3);
    await page.reload();
    await voteFor(page);
    await page.getByText(/Quorum: 600,000 of 40,000 votes .* reached/).waitFor();
    expect(await page.getByTestId('votes-for').textContent()).to.contain('600,000');
    await screenshot(page, '04-voted');
    // The README's picture of the app (docs/images/web-proposal.png is copied from it).
    await screenshot(page, 'readme-proposal', 1700);
  });

  it('5. queues and executes it, with the timelock ETA shown', async () => {
    await advance(301);
    await page.getByRole('button', { name: 'Queue in the timelock' }).click();
    await page.getByText('Queue: done.').waitFor();
    await page.getByTestId('eta').waitFor();
    expect(await page.getByRole('button', { name: 'Execute', exact: true }).isDisabled()).to.equal(true);
    await screenshot(page, '05-queued');
    await advance(61);
    const execute = page.getByRole('button', { name: 'Execute', exact: true });
    // Enabled once the page has seen the block past the ETA.
    await page.locator('button:not([disabled])', { hasText: /^Execute$/ }).waitFor();
    await execute.click();
    await page.getByText('Execute: done.').waitFor();
    await page.locator('.badge[data-state="executed"]').waitFor();
    expect(await dao.list.currentVersion()).to.equal(1n);
  });

  it('6. shows the new list version on the list page, and proves a listed CID on chain', async () => {
    await page.getByRole('link', { name: 'Lists' }).click();
    await page
      .getByRole('link', { name: await dao.list.getAddress() })
      .first()
      .click();
    await page.getByTestId('current-version').getByText('1').waitFor();
    const row = page.locator('tr[data-version="1"]');
    expect(await row.getByTestId('version-count').textContent()).to.equal('2');
    await row.getByRole('button', { name: 'Show entries' }).click();
    await page.getByText('Checked in your browser: the payload’s 2 entries hash to the root on chain.').waitFor();

    await page.getByLabel('CID or entry id').fill(cids[0]);
    await page.getByRole('button', { name: 'Check', exact: true }).click();
    await page.getByTestId('check-result').getByText('verifies on chain (IllegalDataList.isListedAt)').waitFor();
    await screenshot(page, '06-list');
    await page.getByLabel('CID or entry id').fill(await contentCid('web: harmless'));
    await page.getByRole('button', { name: 'Check', exact: true }).click();
    await page.getByTestId('check-result').getByText('Not listed').waitFor();
  });

  it('7. shows a protest fork’s lineage back to the list it forks', async () => {
    const parent = await dao.list.getAddress();
    const v1 = await dao.list.getVersion(1n);
    const fork = await ignition.deploy(ListForkModule, {
      parameters: {
        ListFork: {
          holders: [dao.holders[3].address],
          amounts: [LOCAL_AMOUNTS[3]],
          listPolicyCid: LOCAL_PARAMETERS.listPolicyCid,
          parentList: parent,
          parentVersion: 1n,
          root: ethers.keccak256(ethers.keccak256(entryId(cids[0]))),
          count: 1n,
          removed: 1n,
          payloadCid: v1.payloadCid,
        },
      },
    });
    const forkList = await fork.list.getAddress();
    await page.getByRole('link', { name: 'Lists' }).click();
    await page.getByLabel('Open another list by its address').fill(forkList);
    await page.getByRole('button', { name: 'Open', exact: true }).click();
    const lineage = page.locator('.lineage');
    await lineage.getByText(parent).waitFor();
    expect(await lineage.textContent()).to.contain(`fork of ${parent} at version 1`);
    const row = page.locator('tr[data-version="1"]');
    expect(await row.textContent()).to.contain('+0 −1 from the parent');
    await screenshot(page, '07-fork');
    await lineage.getByRole('link', { name: parent }).click();
    await page.getByText('This DAO’s list.').waitFor();
  });

  it('8. warns loudly that a tampered payload does not match its proposal', async () => {
    const list = await dao.list.getAddress();
    // A payload whose entries do not hash to the root the proposal claims, served by the peer.
    const ids = new Uint8Array(32 * 2);
    ids.set(entryId(cids[0]), 0);
    ids.set(entryId(await contentCid('web: innocent')), 32);
    const sorted = new Uint8Array(
      [ids.slice(0, 32), ids.slice(32)].sort((a, b) => Buffer.compare(a, b)).flatMap((id) => [...id]),
    );
    const encoded = await encodePayload(peer.blockstore, {
      chainId: 31337,
      list,
      version: 2,
      ids: sorted,
      added: 1,
      removed: 1,
      parent: null,
    });
    await pinRoot(peer, encoded.cid);
    const call = dao.list.interface.encodeFunctionData('publishVersion', [
      1n,
      new Uint8Array(32).fill(0x42),
      2n,
      1n,
      1n,
      encoded.cid.bytes,
    ]);
    const description = 'A harmless-looking list update';
    await dao.governor.connect(dao.holders[1]).propose([list], [0n], [call], description);
    const proposalId = await dao.governor.getProposalId([list], [0n], [call], ethers.id(description));

    await page.goto(`${web.url}/#/proposals`);
    await page.getByRole('link', { name: description }).click();
    const warning = page.getByTestId('payload-mismatch');
    await warning.waitFor({ timeout: 60_000 });
    expect(await warning.textContent()).to.match(/Do not vote for this proposal as it stands/i);
    expect(await warning.textContent()).to.contain('PayloadRootMismatchError');
    expect(page.url()).to.contain(String(proposalId));
    await screenshot(page, '08-tampered');
    expect(pageErrors).to.deep.equal([]);
  });

  it('9. browses rating servers with their policy and endpoints, and proposes an activation', async () => {
    const policy = new TextEncoder().encode('# Rating policy of the test server\n\nRates only what it can prove.\n');
    const policyCid = CID.create(1, raw.code, await sha256.digest(policy));
    await peer.blockstore.put(policyCid, policy);
    const operator = dao.outsiders[1];
    await dao.registry
      .connect(operator)
      .register(
        peer.libp2p.peerId.toMultihash().bytes,
        ['/dns4/rating.example.org/tcp/4001'],
        policyCid.toString(),
        await dao.list.getAddress(),
      );

    await page.getByRole('link', { name: 'Rating servers' }).click();
    const card = page.locator('article[data-server-id="1"]');
    await card.getByText('/dns4/rating.example.org/tcp/4001').waitFor();
    await card.getByText(peer.libp2p.peerId.toString()).waitFor();
    expect(await card.locator('.badge').textContent()).to.equal('applied');
    await card.getByText('Read the policy document').click();
    await card.getByTestId('policy-text').getByText('Rates only what it can prove.').waitFor();
    await screenshot(page, '09-servers');

    await card.getByRole('button', { name: 'Propose activation' }).click();
    await card.getByLabel('Why (the proposal’s description, which voters read)').fill('It follows the policy.');
    await card.getByRole('button', { name: 'Submit the proposal' }).click();
    await card.getByTestId('new-proposal-link').click();
    await page.getByRole('heading', { name: 'Activate rating server 1', level: 1 }).waitFor();
    await page.getByText('Activates rating server 1').waitFor();
  });

  it('10. fits a narrow window: no page is wider than a phone’s screen', async () => {
    await page.setViewportSize({ width: 360, height: 780 });
    for (const path of [
      '',
      '#/proposals',
      proposalUrl.slice(proposalUrl.indexOf('#')),
      '#/lists',
      '#/propose',
      '#/servers',
      '#/account',
    ]) {
      await page.goto(`${web.url}/${path}`);
      await page.locator('main h1').waitFor();
      await page.waitForLoadState('networkidle');
      // A function, not a string: the app's content security policy forbids evaluating strings.
      const [scrollWidth, width] = await page.evaluate(() => {
        const { document, innerWidth } = globalThis as unknown as {
          document: { documentElement: { scrollWidth: number } };
          innerWidth: number;
        };
        return [document.documentElement.scrollWidth, innerWidth];
      });
      expect(scrollWidth, `${path || 'overview'} is ${scrollWidth} px wide`).to.be.at.most(width);
    }
    await page.goto(proposalUrl);
    await page.getByTestId('payload-verified').waitFor();
    await screenshot(page, '10-narrow-proposal');
    expect(pageErrors).to.deep.equal([]);
  });

  /** Moves the chain's clock, as `nrp dev advance` does, through the provider. */
  async function advance(seconds: number) {
    await networkHelpers.time.increase(seconds);
  }
});

async function voteFor(page: Page, reason?: string) {
  await page.getByRole('radio', { name: 'For' }).check();
  if (reason) await page.getByLabel('Reason (optional, recorded on chain with your vote)').fill(reason);
  await page.getByRole('button', { name: 'Cast vote' }).click();
  await page.getByText('Vote for: done.').waitFor();
}
