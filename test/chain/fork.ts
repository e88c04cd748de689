import { randomBytes } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryBlockstore } from 'blockstore-core/memory';
import { expect } from 'chai';
import { type Address, bytesToHex, createWalletClient, getAddress, http, parseEther } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { getTransactionCount } from 'viem/actions';
import { localChain } from '../../src/chain/clients.js';
import {
  type DeployListForkParameters,
  deployListFork,
  ForkDeploymentError,
  type ForkInitialVersion,
  readForkPlan,
} from '../../src/chain/fork.js';
import { getListInfo, getListVersion } from '../../src/chain/lists.js';
import { decodePayload, encodePayload } from '../../src/lists/payload.js';
import { packIds } from '../../src/lists/set-ops.js';
import { type Dao, deployDao, ethers, networkHelpers } from '../helpers/dao.js';
import { removeDir } from '../helpers/dirs.js';
import { impersonate } from '../helpers/impersonate.js';
import { serveChainOverHttp } from '../helpers/rpc-server.js';

const ARTIFACTS = join(import.meta.dirname, '../../artifacts');

describe('deployListFork', function () {
  this.timeout(120_000);
  let dao: Dao;
  let rpc: Awaited<ReturnType<typeof serveChainOverHttp>>;
  let dir: string;
  let parentList: Address;
  /** The parent's version 1: five ids. */
  let parentIds: Uint8Array[];

  before(async () => {
    dao = await deployDao();
    rpc = await serveChainOverHttp();
    dir = await mkdtemp(join(tmpdir(), 'nrp-fork-'));
    parentList = getAddress(await dao.list.getAddress());
    parentIds = Array.from({ length: 5 }, () => new Uint8Array(randomBytes(32)));
    const store = new MemoryBlockstore();
    const parent = await encodePayload(store, {
      chainId: 31337,
      list: parentList,
      version: 1,
      ids: packIds(parentIds),
      added: 5,
      removed: 0,
    });
    const timelock = await impersonate(dao.timelock);
    await dao.list.connect(timelock).publishVersion(0n, parent.header.root, 5, 5, 0, parent.cid.bytes);
  });

  after(async () => {
    await rpc.close();
    await removeDir(dir);
  });

  /** A fresh funded key, so the test can count exactly the transactions a deployment sends. */
  async function freshWallet() {
    const account = privateKeyToAccount(generatePrivateKey());
    await networkHelpers.setBalance(account.address, parseEther('10'));
    return createWalletClient({ account, chain: localChain, transport: http(rpc.url), pollingInterval: 50 });
  }

  /** Parameters that fork the parent without its first id, with the payload in `store`. */
  function forkOf(
    wallet: Awaited<ReturnType<typeof freshWallet>>,
    name: string,
    store: MemoryBlockstore,
    calls: Address[],
  ): DeployListForkParameters {
    const kept = packIds(parentIds.slice(1));
    return {
      rpcUrl: rpc.url,
      deploymentDir: join(dir, name),
      artifactsDir: ARTIFACTS,
      parentList,
      parentVersion: 1n,
      listPolicyCid: 'bafkreiggvevbocchx2r5kwth37o74qdqu25teoctv333lcpzaqk5oqdcja',
      governance: { holders: [wallet.account.address], amounts: [10n ** 24n], votingPeriod: 600 },
      initialVersion: async (list): Promise<ForkInitialVersion> => {
        calls.push(list);
        const encoded = await encodePayload(store, {
          chainId: 31337,
          list,
          version: 1,
          ids: kept,
          added: 0,
          removed: 1,
        });
        return { root: bytesToHex(encoded.header.root), count: 4, removed: 1, payloadCid: encoded.cid };
      },
    };
  }

  it('deploys the ListFork module: the fork records its parent, and its payload names it', async () => {
    const wallet = await freshWallet();
    const store = new MemoryBlockstore();
    const calls: Address[] = [];
    const lines: string[] = [];
    const parameters = { ...forkOf(wallet, 'first', store, calls), onProgress: (line: string) => lines.push(line) };
    const fork = await deployListFork(wallet, parameters);

    expect(calls).to.deep.equal([fork.list]);
    expect(fork.resumed).to.equal(false);
    expect(await getTransactionCount(wallet, { address: wallet.account.address })).to.equal(7);
    const info = await getListInfo(wallet, { list: fork.list });
    expect(info).to.deep.include({ executor: fork.timelock, parent: { list: parentList, version: 1n } });
    const first = await getListVersion(wallet, { list: fork.list });
    expect(first).to.deep.include({ version: 1n, count: 4, removed: 1, added: 0, root: fork.initialVersion.root });
    const payload = await decodePayload(store, first.payloadCid, {
      expected: { list: fork.list, version: 1, chainId: 31337, count: 4 },
    });
    expect(payload.ids.length).to.equal(4 * 32);
    const governor = await ethers.getContractAt('RatingGovernor', fork.governor);
    expect(await governor.votingPeriod()).to.equal(600n);
    expect(await governor.token()).to.equal(fork.token);
    // A block before the list's creation, where a sync of the fork starts.
    const created = await ethers.provider.getBlockNumber();
    expect(fork.fromBlock <= BigInt(created)).to.equal(true);
    expect(lines.some((line) => line.includes('ListFork#IllegalDataList: done'))).to.equal(true);
    expect(await readForkPlan(parameters.deploymentDir)).to.deep.include({
      list: fork.list,
      payloadCid: fork.initialVersion.payloadCid.toString(),
    });

    // Run again: nothing new is sent, and the same fork comes back.
    const again = await deployListFork(wallet, parameters);
    expect(again).to.deep.include({ list: fork.list, governor: fork.governor, token: fork.token, resumed: true });
    expect(calls).to.deep.equal([fork.list, fork.list]);
    expect(await getTransactionCount(wallet, { address: wallet.account.address })).to.equal(7);
  });

  it('builds the payload again when the key sends a transaction while it is being built', async () => {
    const wallet = await freshWallet();
    const store = new MemoryBlockstore();
    const calls: Address[] = [];
    const parameters = forkOf(wallet, 'busy-key', store, calls);
    const build = parameters.initialVersion;
    parameters.initialVersion = async (list) => {
      const built = await build(list);
      // The protester's key votes somewhere else meanwhile: the next nonce is no longer the list's.
      if (calls.length === 1) await wallet.sendTransaction({ to: wallet.account.address, value: 0n });
      return built;
    };
    const fork = await deployListFork(wallet, parameters);
    expect(calls).to.have.length(2);
    expect(calls[0]).to.not.equal(calls[1]);
    expect(fork.list).to.equal(calls[1]);
    const first = await getListVersion(wallet, { list: fork.list });
    await decodePayload(store, first.payloadCid, { expected: { list: fork.list } });
    expect(await getTransactionCount(wallet, { address: wallet.account.address })).to.equal(8);
  });

  it('reports a constructor that would revert, and deploys once the cause is fixed', async () => {
    const wallet = await freshWallet();
    const store = new MemoryBlockstore();
    const parameters = forkOf(wallet, 'wrong-count', store, []);
    const right = parameters.initialVersion;
    parameters.initialVersion = async (list) => ({ ...(await right(list)), count: 5 });
    const error = await deployListFork(wallet, parameters).catch((err: unknown) => err);
    expect(error).to.be.instanceOf(ForkDeploymentError);
    expect((error as Error).message).to.match(/ListFork#IllegalDataList failed: .*IllegalDataListCountMismatch/);
    expect((error as Error).message).to.contain('Run the same command again to resume.');
    // The governance is deployed; the list, simulated first, was never sent.
    expect(await getTransactionCount(wallet, { address: wallet.account.address })).to.equal(6);

    parameters.initialVersion = right;
    const lines: string[] = [];
    const fork = await deployListFork(wallet, { ...parameters, onProgress: (line) => lines.push(line) });
    expect(lines).to.include('  ListFork#IllegalDataList: nothing was sent yet; preparing it again');
    expect((await getListVersion(wallet, { list: fork.list })).count).to.equal(4);
    expect(await getTransactionCount(wallet, { address: wallet.account.address })).to.equal(7);
  });

  it('says to compile the contracts when their artifacts are missing, before sending anything', async () => {
    const wallet = await freshWallet();
    const parameters = { ...forkOf(wallet, 'no-artifacts', new MemoryBlockstore(), []), artifactsDir: join(dir, 'x') };
    const error = await deployListFork(wallet, parameters).catch((err: unknown) => err);
    expect(error).to.be.instanceOf(ForkDeploymentError);
    expect((error as Error).message).to.contain('compile the contracts first');
    expect(await getTransactionCount(wallet, { address: wallet.account.address })).to.equal(0);
  });
});
