import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KEEP_ALIVE } from '@libp2p/interface';
import { peerIdFromString } from '@libp2p/peer-id';
import { expect } from 'chai';
import { getAddress } from 'viem';
import { registerServer, serverStatusCall } from '../../src/chain/registry.js';
import { connectListPeers } from '../../src/server/list-peers.js';
import type { RatingServer } from '../../src/server/server.js';
import { publicClient, type ViemDao, viemDaoFixture } from '../chain/helpers.js';
import { removeDir } from '../helpers/dirs.js';
import { LISTED, listAndSync, startTestServer } from './helpers/api-server.js';
import { governance, POLICY_CID } from './helpers/governance.js';

describe('a rating server connects to the other servers of its list', function () {
  this.timeout(120_000);
  let dao: ViemDao;
  let dir: string;
  const servers: RatingServer[] = [];

  before(async () => {
    dao = await viemDaoFixture();
    dir = await mkdtemp(join(tmpdir(), 'nrp-list-peers-'));
  });

  after(async () => {
    await Promise.all(servers.map((server) => server.stop()));
    if (dir) await removeDir(dir);
  });

  async function activate(server: RatingServer, list = dao.list) {
    const { serverId } = await registerServer(dao.outsider, {
      registry: dao.registry,
      peerId: peerIdFromString(server.peerId).toMultihash().bytes,
      // As an operator registers them: without the peer id, which the registry holds apart.
      multiaddrs: server.getMultiaddrs().map((address) => address.toString().replace(/\/p2p\/.*$/, '')),
      policyCid: POLICY_CID,
      list,
    });
    await governance(dao, [serverStatusCall(dao.registry, serverId, 'active')], `Activate ${server.peerId}`);
  }

  it('fetches the list’s payload from one at its first sync, with no bootstrap, and keeps it connected', async () => {
    const first = await startTestServer(dao, join(dir, 'first'), { listen: ['/ip4/127.0.0.1/tcp/0'] });
    servers.push(first);
    await listAndSync(dao, first, LISTED);
    await activate(first);

    const joining = await startTestServer(dao, join(dir, 'joining'), {
      listen: ['/ip4/127.0.0.1/tcp/0'],
      registry: dao.registry,
    });
    servers.push(joining);

    // The payload is in the first server's store only: the joining one got it there during its start.
    expect(joining.list.current.version).to.equal(1n);
    expect(joining.list.current.count).to.equal(LISTED.length);
    const firstId = peerIdFromString(first.peerId);
    expect(joining.helia.libp2p.getConnections(firstId)).to.not.be.empty;
    expect((await joining.helia.libp2p.peerStore.get(firstId)).tags.has(KEEP_ALIVE)).to.equal(true);
  });

  it('skips itself, servers of other lists, and a registry it cannot read', async () => {
    const [first, joining] = servers;
    const elsewhere = await startTestServer(dao, join(dir, 'elsewhere'), { listen: ['/ip4/127.0.0.1/tcp/0'] });
    servers.push(elsewhere);
    // A list of another DAO's, enforced by a server of this registry.
    await activate(elsewhere, (await viemDaoFixture()).list);

    // The first server is the only other active one of the list: the joining one reaches it; it reaches none.
    expect(await connectListPeers(joining.helia, publicClient, { registry: dao.registry, list: dao.list })).to.equal(1);
    expect(await connectListPeers(first.helia, publicClient, { registry: dao.registry, list: dao.list })).to.equal(0);
    expect(first.helia.libp2p.getConnections(peerIdFromString(elsewhere.peerId))).to.be.empty;
    const notRegistry = getAddress('0x0000000000000000000000000000000000000002');
    expect(await connectListPeers(first.helia, publicClient, { registry: notRegistry, list: dao.list })).to.equal(0);
  });
});
