import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ExecutionEventResultType, ExecutionEventType } from '@nomicfoundation/ignition-core';
import { expect } from 'chai';
import { encodeFunctionData, type Hex, parseEther } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { illegalDataListAbi } from '../../src/chain/abis.js';
import {
  ArtifactNotFoundError,
  createSigningJsonRpcProvider,
  FileArtifactResolver,
  ignitionProgressListener,
  JsonRpcResponseError,
  RpcUnreachableError,
  type SignedTransaction,
} from '../../src/chain/ignition.js';
import { deployDao, networkHelpers } from '../helpers/dao.js';
import { removeDir } from '../helpers/dirs.js';
import { serveChainOverHttp } from '../helpers/rpc-server.js';

const ARTIFACTS = join(import.meta.dirname, '../../artifacts');

describe('Ignition without Hardhat: artifacts and a signing JSON-RPC provider', function () {
  this.timeout(60_000);
  let rpc: Awaited<ReturnType<typeof serveChainOverHttp>>;
  let dir: string;

  before(async () => {
    rpc = await serveChainOverHttp();
    dir = await mkdtemp(join(tmpdir(), 'nrp-ignition-'));
  });

  after(async () => {
    await rpc.close();
    await removeDir(dir);
  });

  it('reads compiled artifacts by contract name, with their build info', async () => {
    const resolver = new FileArtifactResolver(ARTIFACTS);
    const list = await resolver.loadArtifact('IllegalDataList');
    expect(list.contractName).to.equal('IllegalDataList');
    expect(list.bytecode).to.match(/^0x[0-9a-f]+$/);
    // OpenZeppelin's, from node_modules: found by name all the same.
    expect((await resolver.loadArtifact('TimelockController')).sourceName).to.contain('TimelockController.sol');
    const buildInfo = await resolver.getBuildInfo('IllegalDataList');
    expect(buildInfo?.input.sources).to.have.property('project/contracts/IllegalDataList.sol');
  });

  it('says to compile when an artifact is missing, and refuses an ambiguous name', async () => {
    const empty = new FileArtifactResolver(join(dir, 'no-artifacts'));
    const missing = await empty.loadArtifact('IllegalDataList').catch((error: unknown) => error);
    expect(missing).to.be.instanceOf(ArtifactNotFoundError);
    expect((missing as Error).message).to.contain('compile the contracts first (npx hardhat build)');

    const twice = join(dir, 'twice');
    for (const folder of ['a.sol', 'b.sol']) {
      await mkdir(join(twice, folder), { recursive: true });
      await writeFile(join(twice, folder, 'Same.json'), '{}');
    }
    const ambiguous = await new FileArtifactResolver(twice).loadArtifact('Same').catch((error: unknown) => error);
    expect(ambiguous).to.be.instanceOf(ArtifactNotFoundError);
    expect((ambiguous as Error).message).to.contain('names 2 artifacts');
    await writeFile(join(twice, 'a.sol', 'Solo.json'), '{"contractName":"Solo"}');
    expect(await new FileArtifactResolver(twice).getBuildInfo('Solo')).to.equal(undefined);
  });

  it('signs eth_sendTransaction with its local key, logging the hash before sending', async () => {
    const account = privateKeyToAccount(generatePrivateKey());
    await networkHelpers.setBalance(account.address, parseEther('1'));
    const signed: SignedTransaction[] = [];
    const provider = createSigningJsonRpcProvider({
      url: rpc.url,
      account,
      chainId: 31337,
      onSigned: async (transaction) => {
        signed.push(transaction);
      },
    });
    expect(await provider.request({ method: 'eth_accounts' })).to.deep.equal([account.address]);
    const block = (await provider.request({ method: 'eth_getBlockByNumber', params: ['latest', false] })) as {
      baseFeePerGas: Hex;
    };
    const hash = await provider.request({
      method: 'eth_sendTransaction',
      params: [
        {
          from: account.address.toLowerCase(),
          to: account.address,
          value: '0x1',
          nonce: '0x0',
          gas: '0x5208',
          maxFeePerGas: `0x${(BigInt(block.baseFeePerGas) * 2n + 1n).toString(16)}`,
          maxPriorityFeePerGas: '0x1',
        },
      ],
    });
    expect(signed).to.deep.equal([{ from: account.address, nonce: 0, hash }]);
    const receipt = (await provider.request({ method: 'eth_getTransactionReceipt', params: [hash] })) as {
      status: Hex;
    };
    expect(receipt.status).to.equal('0x1');

    const other = privateKeyToAccount(generatePrivateKey()).address;
    const refused = await provider
      .request({ method: 'eth_sendTransaction', params: [{ from: other, to: other, nonce: '0x1', gas: '0x5208' }] })
      .catch((error: unknown) => error);
    expect(refused).to.be.instanceOf(JsonRpcResponseError);
    expect(refused).to.include({ code: 4100 });
    expect(signed).to.have.length(1);
  });

  it('keeps the node’s error code and revert data, which Ignition decodes', async () => {
    const dao = await deployDao();
    const provider = createSigningJsonRpcProvider({
      url: rpc.url,
      account: privateKeyToAccount(generatePrivateKey()),
      chainId: 31337,
    });
    const error = await provider
      .request({
        method: 'eth_call',
        params: [
          {
            to: await dao.list.getAddress(),
            data: encodeFunctionData({ abi: illegalDataListAbi, functionName: 'getVersion', args: [7n] }),
          },
          'latest',
        ],
      })
      .catch((err: unknown) => err);
    expect(error).to.be.instanceOf(JsonRpcResponseError);
    // IllegalDataListUnknownVersion(7, 0), ABI-encoded, as the node sent it.
    expect((error as JsonRpcResponseError).data)
      .to.be.a('string')
      .and.match(/^0x[0-9a-f]{8}0{63}7/);
  });

  it('reports an endpoint that cannot be reached', async () => {
    const url = `http://127.0.0.1:${await closedPort()}`;
    const provider = createSigningJsonRpcProvider({
      url,
      account: privateKeyToAccount(generatePrivateKey()),
      chainId: 31337,
    });
    const error = await provider.request({ method: 'eth_chainId' }).catch((err: unknown) => err);
    expect(error).to.be.instanceOf(RpcUnreachableError);
    expect((error as Error).message).to.equal(`Cannot reach the chain at ${url}: connect ECONNREFUSED ${url.slice(7)}`);
  });

  it('turns Ignition’s events into one line per transaction and per future', async () => {
    const lines: string[] = [];
    const listener = ignitionProgressListener((line) => lines.push(line));
    await listener.transactionSend({ type: ExecutionEventType.TRANSACTION_SEND, futureId: 'M#A', hash: '0xab' });
    await listener.deploymentExecutionStateComplete({
      type: ExecutionEventType.DEPLOYMENT_EXECUTION_STATE_COMPLETE,
      futureId: 'M#A',
      result: { type: ExecutionEventResultType.SUCCESS, result: '0x5FbDB2315678afecb367f032d93F642f64180aa3' },
    });
    await listener.callExecutionStateComplete({
      type: ExecutionEventType.CALL_EXECUTION_STATE_COMPLETE,
      futureId: 'M#call',
      result: { type: ExecutionEventResultType.ERROR, error: 'reverted' },
    });
    await listener.runStart({ type: ExecutionEventType.RUN_START });
    expect(lines).to.deep.equal([
      'M#A: sent 0xab',
      'M#A: done (0x5FbDB2315678afecb367f032d93F642f64180aa3)',
      'M#call: failed: reverted',
    ]);
  });
});

/** A port nothing listens on: one the system just gave out and took back. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}
