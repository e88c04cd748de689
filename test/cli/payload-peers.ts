import { join } from 'node:path';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id';
import { expect } from 'chai';
import { registerServer, serverStatusCall } from '../../src/chain/registry.js';
import { entryId, entryIdToHex } from '../../src/lists/entry-id.js';
import type { RatingServer } from '../../src/server/server.js';
import type { ViemDao } from '../chain/helpers.js';
import { type CliTestChain, nrp, startViemCliTestChain } from '../helpers/cli.js';
import { removeDir } from '../helpers/dirs.js';
import { LISTED, listAndSync, startTestServer } from '../server/helpers/api-server.js';
import { governance, POLICY_CID } from '../server/helpers/governance.js';
import { cidOf } from '../server/helpers/reports.js';

describe('nrp fetches payloads from the active rating servers when no --peer is given', function () {
  this.timeout(120_000);
  let dao: ViemDao;
  let rpc: CliTestChain['rpc'];
  let dir: string;
  let base: string[];
  let server: RatingServer;

  before(async () => {
    ({ dao, rpc, dir, base } = await startViemCliTestChain('nrp-payload-peers-'));
    server = await startTestServer(dao, join(dir, 'server'), { listen: ['/ip4/127.0.0.1/tcp/0'] });
    // The payload is in the server's store and nowhere else.
    await listAndSync(dao, server, LISTED);
  });

  after(async () => {
    await server?.stop();
    await rpc?.close();
    if (dir) await removeDir(dir);
  });

  it('not from a server the registry has not activated; from one it has, by its registered addresses', async () => {
    const reader = { NRP_DATA_DIR: join(dir, 'reader') };
    const show = () => nrp([...base, 'list', 'show', '--entries'], reader);

    // Registered addresses name no peer id: the CLI pins each to the registered one.
    const multiaddrs = server.getMultiaddrs().map((address) => address.toString().replace(/\/p2p\/.*$/, ''));
    const { serverId } = await registerServer(dao.outsider, {
      registry: dao.registry,
      peerId: peerIdFromString(server.peerId).toMultihash().bytes,
      multiaddrs,
      policyCid: POLICY_CID,
      list: dao.list,
    });
    const pending = await show();
    expect(pending.code).to.equal(1);
    expect(pending.stderr).to.contain('no IPFS peer is connected');
    expect(pending.stderr).to.contain('--peer');

    await governance(dao, [serverStatusCall(dao.registry, serverId, 'active')], 'Activate the server');
    const shown = await show();
    expect(shown.code, shown.stderr).to.equal(0);
    for (const text of LISTED) expect(shown.stdout).to.contain(entryIdToHex(entryId(await cidOf(text))));
  });

  it('an active server whose address does not answer is skipped, and the error still says what to do', async () => {
    const { serverId } = await registerServer(dao.outsider, {
      registry: dao.registry,
      peerId: peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toMultihash().bytes,
      multiaddrs: ['/ip4/127.0.0.1/tcp/9'],
      policyCid: POLICY_CID,
      list: dao.list,
    });
    await governance(dao, [serverStatusCall(dao.registry, serverId, 'active')], 'Activate a dead server');
    await server.stop();
    const shown = await nrp([...base, 'list', 'show', '--entries'], { NRP_DATA_DIR: join(dir, 'second-reader') });
    expect(shown.code).to.equal(1);
    expect(shown.stderr).to.contain('--peer');
  });
});
