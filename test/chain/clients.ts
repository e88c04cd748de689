import { expect } from 'chai';
import { http, parseEther } from 'viem';
import { getBalance, getChainId, waitForTransactionReceipt } from 'viem/actions';
import {
  accountFromPrivateKey,
  chainFromId,
  createNrpClients,
  developmentAccount,
  LOCAL_RPC_URL,
  localChain,
} from '../../src/chain/clients.js';
import { InvalidPrivateKeyError } from '../../src/chain/errors.js';
import { ethers } from '../helpers/dao.js';
import { HARDHAT_PRIVATE_KEYS, publicClient, transport, walletFor } from './helpers.js';

describe('chain client: clients', () => {
  it('reads the in-process Hardhat chain through a custom transport, as chain 31337', async () => {
    expect(localChain.id).to.equal(31337);
    expect(await getChainId(publicClient)).to.equal(31337);
    expect(createNrpClients({ transport }).walletClient).to.equal(undefined);
  });

  it('defaults to the local chain over HTTP', () => {
    const { publicClient: client } = createNrpClients();
    expect(client.chain.id).to.equal(31337);
    expect(client.transport.type).to.equal('http');
    expect(client.transport.url).to.equal(LOCAL_RPC_URL);
    const remote = createNrpClients({ rpcUrl: 'https://rpc.example.org', chain: chainFromId(11155111) });
    expect(remote.publicClient.transport.url).to.equal('https://rpc.example.org');
    expect(remote.publicClient.chain.id).to.equal(11155111);
    expect(createNrpClients({ transport: http('http://127.0.0.1:9999') }).publicClient.transport.url).to.equal(
      'http://127.0.0.1:9999',
    );
  });

  it('signs with a private key in this process, and with a JSON-RPC account through the node', async () => {
    const signers = await ethers.getSigners();
    const local = walletFor(accountFromPrivateKey(HARDHAT_PRIVATE_KEYS[0]));
    expect(local.account.type).to.equal('local');
    expect(local.account.address).to.equal(signers[0].address);
    const jsonRpc = walletFor(signers[1].address as `0x${string}`);
    expect(jsonRpc.account.type).to.equal('json-rpc');

    const recipient = signers[6].address as `0x${string}`;
    const before = await getBalance(publicClient, { address: recipient });
    for (const wallet of [local, jsonRpc]) {
      const hash = await wallet.sendTransaction({ to: recipient, value: parseEther('1') });
      expect((await waitForTransactionReceipt(publicClient, { hash })).status).to.equal('success');
    }
    expect(await getBalance(publicClient, { address: recipient })).to.equal(before + parseEther('2'));
  });

  it('names chains by id', () => {
    expect(chainFromId(31337, 'http://10.0.0.2:8545')).to.deep.include({ id: 31337, name: localChain.name });
    expect(chainFromId(31337, 'http://10.0.0.2:8545').rpcUrls.default.http).to.deep.equal(['http://10.0.0.2:8545']);
    const other = chainFromId(8453, 'https://rpc.example.org');
    expect(other).to.deep.include({ id: 8453, name: 'Chain 8453' });
    expect(other.rpcUrls.default.http).to.deep.equal(['https://rpc.example.org']);
  });

  it('reads private keys as key files hold them, and rejects bad ones without repeating them', () => {
    const key = HARDHAT_PRIVATE_KEYS[0];
    const expected = accountFromPrivateKey(key).address;
    for (const written of [key.slice(2), `  ${key}\n`, key.toUpperCase().replace('0X', '0x')]) {
      expect(accountFromPrivateKey(written).address).to.equal(expected);
    }
    const secretLooking = `${key.slice(0, 60)}zzzz`;
    for (const bad of ['', '0x1234', secretLooking, `0x${'0'.repeat(64)}`, `0x${'f'.repeat(64)}`]) {
      expect(() => accountFromPrivateKey(bad), bad).to.throw(InvalidPrivateKeyError);
      try {
        accountFromPrivateKey(bad);
      } catch (err) {
        expect((err as Error).message).not.to.include(key.slice(2, 20));
        expect((err as Error).cause).to.equal(undefined);
      }
    }
  });

  it('derives Hardhat’s development accounts from its public mnemonic, 0 to 19 only', async () => {
    const signers = await ethers.getSigners();
    for (const index of [0, 4, 19]) expect(developmentAccount(index).address).to.equal(signers[index].address);
    expect(developmentAccount(1)).to.equal(developmentAccount(1));
    for (const index of [-1, 20, 1.5]) expect(() => developmentAccount(index)).to.throw(RangeError);
  });
});
