import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { randomBytes } from 'ethers';
import type { CID } from 'multiformats/cid';
import { type Address, custom } from 'viem';
import { createNrpClients } from '../../src/chain/clients.js';
import { createNrpHelia, type NrpHelia } from '../../src/ipfs/helia.js';
import { pinRoot } from '../../src/ipfs/pins.js';
import { compareIds } from '../../src/lists/entry-id.js';
import { encodePayload } from '../../src/lists/payload.js';
import { ListSync, type ListSyncComponents, type SyncErrorEvent, type VersionEvent } from '../../src/lists/sync.js';
import { TrafficPriority } from '../../src/node/traffic-priority.js';
import { connection, daoFixture, ethers, networkHelpers } from '../helpers/dao.js';
import { removeDir } from '../helpers/dirs.js';
import { impersonate } from '../helpers/impersonate.js';

const CHAIN_ID = 31337;

function packed(ids: Uint8Array[]): Uint8Array {
  const sorted = [...ids].sort(compareIds);
  const out = new Uint8Array(sorted.length * 32);
  sorted.forEach((id, i) => {
    out.set(id, i * 32);
  });
  return out;
}

function unpack(ids: Uint8Array): Uint8Array[] {
  return Array.from({ length: ids.length / 32 }, (_, i) => ids.slice(i * 32, i * 32 + 32));
}

describe('ListSync', function () {
  this.timeout(60_000);
  const nodes: NrpHelia[] = [];
  const syncs: ListSync[] = [];
  const dirs: string[] = [];

  async function node(options: { dataDir?: string } = {}) {
    const helia = await createNrpHelia(options);
    nodes.push(helia);
    return helia;
  }

  async function tempDir() {
    const dir = await mkdtemp(join(tmpdir(), 'nrp-sync-'));
    dirs.push(dir);
    return dir;
  }

  afterEach(async () => {
    await Promise.all(syncs.splice(0).map((s) => s.stop()));
    await Promise.all(nodes.splice(0).map((n) => n.stop()));
    await Promise.all(dirs.splice(0).map((d) => removeDir(d)));
  });

  async function setup() {
    const dao = await networkHelpers.loadFixture(daoFixture);
    const executor = await impersonate(dao.timelock);
    const list = (await dao.list.getAddress()) as Address;
    const fromBlock = BigInt(await ethers.provider.getBlockNumber());
    const { publicClient } = createNrpClients({ transport: custom(connection.provider) });
    const publisher = await node();

    /** Pins a payload of `ids` on the publisher and publishes it as the next version. */
    async function publish(ids: Uint8Array[], options: { tamper?: boolean; pinned?: boolean } = {}) {
      const current = await dao.list.currentVersion();
      const previous = current === 0n ? 0 : Number((await dao.list.getVersion(current)).count);
      const payloadIds = packed(ids);
      const encoded = await encodePayload(options.pinned === false ? { put: () => undefined } : publisher.blockstore, {
        chainId: CHAIN_ID,
        list,
        version: Number(current) + 1,
        ids: payloadIds,
        added: ids.length,
        removed: previous,
      });
      // A tampered payload claims a root that is not the one on chain.
      const root = options.tamper ? randomBytes(32) : encoded.header.root;
      await dao.list
        .connect(executor)
        .publishVersion(current, root, ids.length, ids.length, previous, encoded.cid.bytes);
      return encoded.cid;
    }

    function follow(
      helia: NrpHelia,
      init: Partial<ConstructorParameters<typeof ListSync>[0]> = {},
      components: Partial<ListSyncComponents> = {},
    ) {
      const sync = new ListSync(
        { list, chainId: CHAIN_ID, fromBlock, fetchTimeoutMs: 5_000, pollIntervalMs: 100, ...init },
        {
          client: publicClient,
          blockstore: helia.blockstore,
          pin: (cid, o) => pinRoot(helia, cid, o),
          ...components,
        },
      );
      syncs.push(sync);
      const versions: VersionEvent[] = [];
      const errors: SyncErrorEvent[] = [];
      sync.addEventListener('version', ({ detail }) => versions.push(detail));
      sync.addEventListener('error', ({ detail }) => errors.push(detail));
      return { sync, versions, errors };
    }

    async function connect(a: NrpHelia, b: NrpHelia) {
      await b.libp2p.dial(a.libp2p.getMultiaddrs());
    }

    return { dao, list, publisher, publish, follow, connect };
  }

  it('backfills from the deploy block and swaps in each verified version', async () => {
    const { publisher, publish, follow, connect } = await setup();
    const reader = await node();
    await connect(publisher, reader);
    const cids = [randomBytes(32), randomBytes(32)];
    await publish(cids);
    const { sync, versions } = follow(reader);
    expect(sync.current.version).to.equal(0n);

    await sync.syncOnce();
    expect(sync.current.version).to.equal(1n);
    expect(sync.current.count).to.equal(2);
    for (const id of cids) expect(sync.has(id)).to.equal(true);
    expect(sync.has(randomBytes(32))).to.equal(false);

    const next = [cids[0], randomBytes(32), randomBytes(32)];
    await publish(next);
    await sync.syncOnce();
    expect(sync.current.version).to.equal(2n);
    expect(sync.has(cids[1])).to.equal(false);
    expect(versions.map((v) => [v.synced.version, v.reason])).to.deep.equal([
      [1n, 'new'],
      [2n, 'new'],
    ]);
  });

  it('fetches a version as urgent traffic, ahead of a node’s content fetches', async () => {
    const { publisher, publish, follow, connect } = await setup();
    const reader = await node();
    await connect(publisher, reader);
    await publish([randomBytes(32), randomBytes(32)]);
    const priority = new TrafficPriority();
    const urgentDuringFetch: boolean[] = [];
    const blockstore: ListSyncComponents['blockstore'] = {
      get: (cid, options) => {
        urgentDuringFetch.push(priority.busy);
        return reader.blockstore.get(cid, options);
      },
    };
    const { sync } = follow(reader, {}, { blockstore, urgent: priority.urgent });
    await sync.syncOnce();
    expect(sync.current.version).to.equal(1n);
    expect(urgentDuringFetch).to.not.be.empty;
    expect(urgentDuringFetch.every(Boolean), 'every block of the payload was fetched as urgent').to.equal(true);
    expect(priority.busy).to.equal(false);
  });

  it('refuses a payload that does not match the root on chain, keeping the last good version', async () => {
    const { publisher, publish, follow, connect } = await setup();
    const reader = await node();
    await connect(publisher, reader);
    const good = [randomBytes(32)];
    await publish(good);
    const { sync, errors } = follow(reader);
    await sync.syncOnce();
    expect(sync.current.version).to.equal(1n);

    await publish([randomBytes(32)], { tamper: true });
    await sync.syncOnce();
    expect(sync.current.version).to.equal(1n);
    expect(sync.has(good[0])).to.equal(true);
    expect(errors).to.have.length(1);
    expect(errors[0].error.name).to.equal('PayloadRootMismatchError');
    expect(errors[0].permanent).to.equal(true);
    expect(errors[0].version).to.equal(2n);

    // The next good version, built on the bad one, still applies.
    await publish([randomBytes(32)]);
    await sync.syncOnce();
    expect(sync.current.version).to.equal(3n);
  });

  it('skips a version whose payload CID on chain is not a CID, and goes on with later ones', async () => {
    const { dao, publisher, publish, follow, connect } = await setup();
    const reader = await node();
    await connect(publisher, reader);
    await publish([randomBytes(32)]);
    const executor = await impersonate(dao.timelock);
    const garbage = new Uint8Array([0xff, 0xff, 0xff, ...randomBytes(32)]);
    await dao.list.connect(executor).publishVersion(1n, randomBytes(32), 1n, 0n, 0n, garbage);
    const { sync, errors } = follow(reader);
    await sync.syncOnce();
    expect(sync.current.version).to.equal(1n);
    expect(errors.map((e) => [e.error.name, e.version, e.permanent])).to.deep.equal([
      ['InvalidPayloadCidError', 2n, true],
    ]);
    await publish([randomBytes(32)]);
    await sync.syncOnce();
    expect(sync.current.version).to.equal(3n);
  });

  it('times out with a clear error while no peer has the payload, then fetches it once one does', async () => {
    const { publisher, publish, follow, connect } = await setup();
    const reader = await node();
    const ids = [randomBytes(32)];
    await publish(ids);
    const { sync, errors } = follow(reader, { fetchTimeoutMs: 500, retryDelayMs: 200 });

    await sync.syncOnce();
    expect(sync.current.version).to.equal(0n);
    expect(errors[0].error.name).to.equal('PayloadUnavailableError');
    expect(errors[0].error.message).to.match(/no connected peer has it/);
    expect(errors[0].permanent).to.equal(false);
    expect(errors[0].retryInMs).to.equal(200);

    await connect(publisher, reader);
    await new Promise((resolve) => setTimeout(resolve, 250));
    await sync.syncOnce();
    expect(sync.current.version).to.equal(1n);
    expect(sync.has(ids[0])).to.equal(true);
  });

  it('gives up on a payload that connected peers do not have after the fetch timeout', async () => {
    const { publisher, publish, follow, connect } = await setup();
    const reader = await node();
    await connect(publisher, reader);
    await publish([randomBytes(32)], { pinned: false });
    const { sync, errors } = follow(reader, { fetchTimeoutMs: 300 });
    const started = Date.now();
    await sync.syncOnce();
    expect(Date.now() - started).to.be.within(250, 5_000);
    expect(sync.current.version).to.equal(0n);
    expect(errors[0].error.name).to.equal('PayloadUnavailableError');
  });

  it('resumes from its checkpoint after a restart, offline and without reading old blocks again', async () => {
    const { publisher, publish, follow, connect } = await setup();
    const dataDir = await tempDir();
    const checkpointPath = join(dataDir, 'sync.json');
    const ids = [randomBytes(32), randomBytes(32)];
    await publish(ids);

    const first = await node({ dataDir });
    await connect(publisher, first);
    const run1 = follow(first, { checkpointPath });
    await run1.sync.syncOnce();
    expect(run1.sync.current.version).to.equal(1n);
    await run1.sync.stop();
    await first.stop();
    await publisher.stop();

    // The publisher is gone: the payload can only come from the reader's own disk.
    const second = await node({ dataDir });
    const run2 = follow(second, { checkpointPath, fetchTimeoutMs: 1_000 });
    const getLogs: unknown[] = [];
    const original = connection.provider.request.bind(connection.provider);
    connection.provider.request = async (args) => {
      if (args.method === 'eth_getLogs') getLogs.push(args.params);
      return original(args);
    };
    try {
      await run2.sync.restore();
      expect(run2.sync.current.version).to.equal(1n);
      expect(run2.versions.map((v) => v.reason)).to.deep.equal(['restored']);
      for (const id of ids) expect(run2.sync.has(id)).to.equal(true);
      await run2.sync.syncOnce();
      expect(run2.errors).to.deep.equal([]);
      expect(getLogs).to.have.length.at.most(1, 'only blocks after the checkpoint are read');
    } finally {
      connection.provider.request = original;
    }
  });

  it('rolls back a version that a reorganisation removed', async () => {
    const { publisher, publish, follow, connect } = await setup();
    const reader = await node();
    await connect(publisher, reader);
    const v1 = [randomBytes(32)];
    await publish(v1);
    const { sync, versions } = follow(reader);
    await sync.syncOnce();
    const beforeFork = await networkHelpers.takeSnapshot();

    const v2 = [randomBytes(32)];
    await publish(v2);
    await sync.syncOnce();
    expect(sync.current.version).to.equal(2n);

    // The chain drops the block with version 2 and grows a longer branch without it.
    await beforeFork.restore();
    await networkHelpers.mine(3);
    await sync.syncOnce();
    expect(sync.current.version).to.equal(1n);
    expect(sync.has(v2[0])).to.equal(false);
    expect(sync.has(v1[0])).to.equal(true);
    expect(versions.at(-1)?.reason).to.equal('rollback');
  });

  it('applies a version only after the configured confirmations', async () => {
    const { publisher, publish, follow, connect } = await setup();
    const reader = await node();
    await connect(publisher, reader);
    await publish([randomBytes(32)]);
    const { sync } = follow(reader, { confirmations: 2 });
    await sync.syncOnce();
    expect(sync.current.version).to.equal(0n);
    await networkHelpers.mine(2);
    await sync.syncOnce();
    expect(sync.current.version).to.equal(1n);
  });

  it('keeps polling once started, and stops cleanly', async () => {
    const { publisher, publish, follow, connect } = await setup();
    const reader = await node();
    await connect(publisher, reader);
    const { sync, versions } = follow(reader);
    await sync.start();
    const ids = [randomBytes(32)];
    await publish(ids);
    const deadline = Date.now() + 10_000;
    while (sync.current.version === 0n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(sync.current.version).to.equal(1n);
    expect(versions).to.have.length(1);
    await sync.stop();
  });

  it('syncs a fork to the parent set at its version minus the removed entries', async () => {
    const { publisher, publish, follow, connect, dao } = await setup();
    const reader = await node();
    await connect(publisher, reader);
    const parentIds = [randomBytes(32), randomBytes(32), randomBytes(32)];
    const parentCid = await publish(parentIds);
    const parentSync = follow(reader);
    await parentSync.sync.syncOnce();

    // The fork's first payload: the parent's set at version 1 minus one disputed entry.
    const disputed = unpack(parentSync.sync.current.index.ids)[0];
    const kept = unpack(parentSync.sync.current.index.ids).slice(1);
    const [deployer] = await ethers.getSigners();
    const forkBlock = BigInt(await ethers.provider.getBlockNumber());
    const factory = await ethers.getContractFactory('IllegalDataList');
    const forkAddress = ethers.getCreateAddress({
      from: deployer.address,
      nonce: await deployer.getNonce(),
    }) as Address;
    const encoded = await encodePayload(publisher.blockstore, {
      chainId: CHAIN_ID,
      list: forkAddress,
      version: 1,
      ids: packed(kept),
      added: 0,
      removed: 1,
      parent: parentCid as CID,
    });
    const fork = await factory.deploy(
      deployer,
      'bafkreiggvevbocchx2r5kwth37o74qdqu25teoctv333lcpzaqk5oqdcja',
      dao.list,
      1n,
      encoded.header.root,
      2n,
      1n,
      encoded.cid.bytes,
    );
    expect(await fork.getAddress()).to.equal(forkAddress);

    const forkSync = follow(reader, { list: forkAddress, fromBlock: forkBlock });
    await forkSync.sync.syncOnce();
    expect(forkSync.sync.current.version).to.equal(1n);
    expect(forkSync.sync.has(disputed)).to.equal(false);
    for (const id of kept) expect(forkSync.sync.has(id)).to.equal(true);
    expect(forkSync.sync.current.header?.parent?.toString()).to.equal(parentCid.toString());
  });
});
