import { createServer } from 'node:net';
import { expect } from 'chai';
import type { CID } from 'multiformats/cid';
import { CID as CIDClass } from 'multiformats/cid';
import * as raw from 'multiformats/codecs/raw';
import { sha256 } from 'multiformats/hashes/sha2';
import type { Browser, Page } from 'playwright-core';
import { bytesToHex } from 'viem';
import { serveProviderOverHttp } from '../../src/demo/rpc-bridge.js';
import { createNrpHelia, type NrpHelia } from '../../src/ipfs/helia.js';
import { entryId } from '../../src/lists/entry-id.js';
import { entryMerkleRoot } from '../../src/lists/merkle.js';
import { encodePayload } from '../../src/lists/payload.js';
import { packIds } from '../../src/lists/set-ops.js';
import { connection, type Dao, deployDao, ethers, networkHelpers } from '../helpers/dao.js';
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

/** A port nothing listens on (it was free a moment ago). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** What the scripted browser wallet does; a test changes it as a user would click in their wallet. */
interface WalletScript {
  account: string;
  chainId: number;
  declineConnection: boolean;
  rejectSignatures: boolean;
}

/**
 * Injects an EIP-1193 wallet into the page, as MetaMask would. Its answers come from this test's script, and
 * everything else (calls, receipts, signing with the account) from the in-process chain, through Hardhat's
 * provider, which holds the test accounts' keys.
 */
async function injectWallet(page: Page, script: WalletScript) {
  await page.exposeFunction('nrpTestWallet', async (method: string, params: unknown[]) => {
    const refuse = (message: string) => ({ error: { code: 4001, message } });
    switch (method) {
      case 'eth_requestAccounts':
        return script.declineConnection ? refuse('User rejected the request.') : { result: [script.account] };
      case 'eth_accounts':
        return { result: [script.account] };
      case 'eth_chainId':
        return { result: `0x${script.chainId.toString(16)}` };
      case 'wallet_switchEthereumChain':
        script.chainId = Number((params[0] as { chainId: string }).chainId);
        return { result: null };
      case 'eth_sendTransaction':
        if (script.rejectSignatures) return refuse('User denied transaction signature.');
        break;
    }
    try {
      return { result: await connection.provider.request({ method, params }) };
    } catch (error) {
      const err = error as { code?: number; message: string; data?: unknown };
      return { error: { code: err.code ?? -32603, message: err.message, data: err.data } };
    }
  });
  // A string, not a function: the test runs through tsx, whose transpiled functions call helpers that the page
  // does not have.
  await page.addInitScript(`
    const listeners = new Map();
    const emit = (event, value) => { for (const listener of listeners.get(event) ?? []) listener(value); };
    window.ethereum = {
      async request({ method, params }) {
        const answer = await window.nrpTestWallet(method, params ?? []);
        if (answer.error) {
          throw Object.assign(new Error(answer.error.message), { code: answer.error.code, data: answer.error.data });
        }
        if (method === 'wallet_switchEthereumChain') emit('chainChanged', params[0].chainId);
        return answer.result;
      },
      on(event, listener) {
        if (!listeners.has(event)) listeners.set(event, new Set());
        listeners.get(event).add(listener);
      },
      removeListener(event, listener) { listeners.get(event)?.delete(listener); },
    };
  `);
}

describe('web app: errors show a clear message and the app keeps working', function () {
  this.timeout(120_000);
  let dao: Dao;
  let rpc: Awaited<ReturnType<typeof serveChainOverHttp>>;
  let browser: Browser;
  const cleanups: (() => Promise<unknown>)[] = [];

  before(async () => {
    dao = await deployDao();
    rpc = await serveChainOverHttp();
    browser = await launchBrowser();
  });

  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
    await browser?.close();
    await rpc?.close();
  });

  async function open(web: TestWeb, path = '') {
    const context = await browser.newContext({ viewport: { width: 1100, height: 800 } });
    cleanups.push(() => context.close());
    const page = await context.newPage();
    const errors = watchPageErrors(page);
    if (path !== null) await page.goto(`${web.url}/${path}`);
    return { page, errors, context };
  }

  async function web(init: Parameters<typeof startTestWeb>[0]) {
    const started = await startTestWeb(init);
    cleanups.push(() => started.close());
    return started;
  }

  it('no RPC: says the chain cannot be reached, keeps working, and recovers when the chain is back', async () => {
    const port = await freePort();
    const server = await web({ rpcUrl: `http://127.0.0.1:${port}`, deployment: await deploymentOf(dao) });
    const { page, errors } = await open(server);
    const banner = page.getByRole('alert').filter({ hasText: 'No connection to the chain' });
    await banner.waitFor();
    expect(await banner.textContent()).to.contain(`cannot reach the chain RPC at http://127.0.0.1:${port}`);
    // Every page still opens, and says what it cannot read.
    await page.getByRole('link', { name: 'Proposals', exact: true }).click();
    await page.getByRole('heading', { name: 'Proposals', level: 1 }).waitFor();
    await page.locator('main [role="alert"]').first().waitFor();
    await screenshot(page, 'error-no-rpc');

    const bridge = await serveProviderOverHttp(connection.provider, { port });
    cleanups.push(() => bridge.close());
    await banner.waitFor({ state: 'detached', timeout: 15_000 });
    await page.getByText('No proposals yet').waitFor();
    expect(errors).to.deep.equal([]);
  });

  it('wrong chain: the RPC is not the deployment’s chain; says which is which and shows no other chain’s data', async () => {
    const server = await web({ rpcUrl: rpc.url, deployment: await deploymentOf(dao, { chainId: 1 }) });
    const { page } = await open(server);
    const banner = page.getByRole('alert').filter({ hasText: 'Wrong chain' });
    await banner.waitFor();
    expect(await banner.textContent()).to.contain(
      'the server’s RPC is chain 31337, but this DAO is deployed on chain 1',
    );
    await page.getByRole('heading', { name: 'Wrong chain', level: 1 }).waitFor();
    // Not the local chain by its record: no development accounts are offered.
    await page.getByRole('button', { name: 'Connect wallet' }).click();
    await page.getByText('No browser wallet found').waitFor();
    expect(await page.getByText('Development accounts').count()).to.equal(0);
    await screenshot(page, 'error-wrong-chain');
  });

  it('a browser wallet: a declined connection, the wrong chain and a rejected signature each say so', async () => {
    const server = await web({ rpcUrl: rpc.url, deployment: await deploymentOf(dao) });
    const [, , holder] = dao.holders;
    const script: WalletScript = {
      account: holder.address,
      chainId: 1,
      declineConnection: true,
      rejectSignatures: true,
    };
    const context = await browser.newContext({ viewport: { width: 1100, height: 800 } });
    cleanups.push(() => context.close());
    const page = await context.newPage();
    const errors = watchPageErrors(page);
    await injectWallet(page, script);
    await page.goto(`${server.url}/#/account`);

    await page.getByRole('button', { name: 'Connect wallet' }).click();
    await page.getByRole('button', { name: 'Connect browser wallet' }).click();
    await page.getByRole('alert').filter({ hasText: 'You declined the connection in your wallet' }).waitFor();

    script.declineConnection = false;
    await page.getByRole('button', { name: 'Connect browser wallet' }).click();
    const wrongChain = page.getByRole('alert').filter({ hasText: 'Your wallet is on the wrong chain' });
    await wrongChain.waitFor();
    await page.getByTestId('voting-power').getByText('150,000 votes').waitFor();
    const delegatee = dao.outsiders[0].address;
    await page.getByLabel('Let this address vote with your tokens').fill(delegatee);
    await page.getByRole('button', { name: 'Delegate', exact: true }).click();
    await page.getByText('Your wallet is on chain 1, but this DAO is on chain 31337').waitFor();
    await screenshot(page, 'error-wallet-wrong-chain');

    await wrongChain.getByRole('button', { name: 'Switch network' }).click();
    await wrongChain.waitFor({ state: 'detached' });
    await page.getByRole('button', { name: 'Delegate', exact: true }).click();
    await page.getByText('You rejected the request in your wallet, so nothing was sent.').waitFor();
    expect(await dao.token.delegates(holder.address)).to.equal(holder.address);
    await screenshot(page, 'error-rejected-signature');

    script.rejectSignatures = false;
    await page.getByRole('button', { name: 'Delegate', exact: true }).click();
    await page.getByText('Delegation: done.').waitFor();
    expect(await dao.token.delegates(holder.address)).to.equal(delegatee);
    expect(errors).to.deep.equal([]);
  });

  it('a revert: the contract’s custom error in words', async () => {
    const server = await web({ rpcUrl: rpc.url, deployment: await deploymentOf(dao) });
    const list = await dao.list.getAddress();
    // A proposal to publish a version built on version 7, which the list never had: executing it must revert.
    const stale = dao.list.interface.encodeFunctionData('publishVersion', [
      7n,
      new Uint8Array(32).fill(1),
      1n,
      1n,
      0n,
      new Uint8Array([1, 85, 18, 32, ...new Uint8Array(32).fill(9)]),
    ]);
    const description = 'Built on a version that never was';
    await dao.governor.connect(dao.holders[0]).propose([list], [0n], [stale], description);
    const proposalId = await dao.governor.getProposalId([list], [0n], [stale], ethers.id(description));
    await networkHelpers.mine();
    await dao.governor.connect(dao.holders[0]).castVote(proposalId, 1);
    await networkHelpers.time.increase(301);
    await dao.governor.queue([list], [0n], [stale], ethers.id(description));
    await networkHelpers.time.increase(61);

    const { page } = await open(server, `#/proposals/${proposalId}`);
    await useDevelopmentAccount(page, 1);
    await page.getByRole('button', { name: 'Execute', exact: true }).click();
    const failure = page.getByRole('alert').filter({ hasText: 'Execute failed.' });
    await failure.waitFor();
    expect(await failure.textContent()).to.contain(
      'The new list version was built on version 7, but the list is now at version 0',
    );
    await screenshot(page, 'error-revert');
  });

  it('an unreachable payload: says it cannot be fetched, never that it matches, and checks it once a peer has it', async () => {
    const peer: NrpHelia = await createNrpHelia();
    cleanups.push(() => peer.stop());
    const server = await web({
      rpcUrl: rpc.url,
      deployment: await deploymentOf(dao),
      peers: peer.libp2p.getMultiaddrs().map(String),
      blockTimeoutMs: 1_500,
    });
    // An honest payload whose blocks are, for now, on no node at all.
    const list = await dao.list.getAddress();
    const content = CIDClass.create(1, raw.code, await sha256.digest(new TextEncoder().encode('web: unreachable')));
    const ids = packIds([entryId(content)]);
    const blocks = new Map<string, { cid: CID; bytes: Uint8Array }>();
    const encoded = await encodePayload(
      { put: (cid, bytes) => blocks.set(cid.toString(), { cid, bytes }) },
      { chainId: 31337, list, version: Number(await dao.list.currentVersion()) + 1, ids, added: 1, removed: 0 },
    );
    const call = dao.list.interface.encodeFunctionData('publishVersion', [
      await dao.list.currentVersion(),
      bytesToHex(await entryMerkleRoot(ids)),
      1n,
      1n,
      0n,
      encoded.cid.bytes,
    ]);
    const description = 'A change whose payload nobody serves yet';
    await dao.governor.connect(dao.holders[0]).propose([list], [0n], [call], description);
    const proposalId = await dao.governor.getProposalId([list], [0n], [call], ethers.id(description));

    const { page, errors } = await open(server, `#/proposals/${proposalId}`);
    const unreachable = page.getByTestId('payload-unreachable');
    await unreachable.waitFor({ timeout: 30_000 });
    expect(await unreachable.textContent()).to.contain('cannot be fetched');
    expect(await unreachable.textContent()).to.match(/no IPFS peer sent block .* within 1\.5 s/);
    expect(await page.getByTestId('payload-verified').count()).to.equal(0);
    expect(await page.getByTestId('payload-mismatch').count()).to.equal(0);
    await screenshot(page, 'error-unreachable-payload');

    for (const { cid, bytes } of blocks.values()) await peer.blockstore.put(cid, bytes);
    await unreachable.getByRole('button', { name: 'Try again' }).click();
    await page.getByTestId('payload-verified').waitFor({ timeout: 30_000 });
    expect(errors).to.deep.equal([]);
  });
});
