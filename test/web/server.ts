import type { ChildProcess } from 'node:child_process';
import { cp, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { createServer, request as httpRequest, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { CID } from 'multiformats/cid';
import * as raw from 'multiformats/codecs/raw';
import { sha256 } from 'multiformats/hashes/sha2';
import { createNrpHelia, type NrpHelia } from '../../src/ipfs/helia.js';
import { ensureWebBuild, WEB_BUILD_DIR } from '../../src/web/build.js';
import { spawnNrp, writeTestDeployment } from '../helpers/cli.js';
import { type Dao, deployDao } from '../helpers/dao.js';
import { removeDir } from '../helpers/dirs.js';
import { serveChainOverHttp } from '../helpers/rpc-server.js';
import { cborBlock } from '../ipfs/helpers.js';
import { deploymentOf, startTestWeb, type TestWeb } from './helpers.js';

/** A JSON answer, with the fields these tests read. */
interface Answer {
  error: string;
  result: unknown;
  id: number;
  contracts: Record<string, string>;
  rpc: string;
}

async function json(response: Response): Promise<Answer> {
  return (await response.json()) as Answer;
}

async function rawBlock(text: string) {
  const bytes = new TextEncoder().encode(text);
  return { cid: CID.create(1, raw.code, await sha256.digest(bytes)), bytes };
}

/** A JSON-RPC endpoint on another chain (id 1), to check what the proxy allows off the local chain. */
async function fakeMainnet(): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => {
      body += chunk;
    });
    req.on('end', () => {
      const { id } = JSON.parse(body) as { id: number };
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ jsonrpc: '2.0', id, result: '0x1' }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, server };
}

describe('nrp web: the server', function () {
  this.timeout(120_000);
  let dao: Dao;
  let rpc: Awaited<ReturnType<typeof serveChainOverHttp>>;
  let web: TestWeb;
  let peer: NrpHelia;

  before(async () => {
    dao = await deployDao();
    rpc = await serveChainOverHttp();
    peer = await createNrpHelia();
    web = await startTestWeb({
      rpcUrl: rpc.url,
      deployment: await deploymentOf(dao),
      peers: peer.libp2p.getMultiaddrs().map(String),
      blockTimeoutMs: 1_000,
    });
  });

  after(async () => {
    await web?.close();
    await peer?.stop();
    await rpc?.close();
  });

  const rpcCall = (method: string, params: unknown[] = [], url = web.url) =>
    fetch(`${url}/rpc`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
    });

  describe('the app and the deployment record', () => {
    it('serves the built app with a content security policy, its assets, and /deployment.json', async () => {
      const page = await fetch(web.url);
      expect(page.status).to.equal(200);
      expect(page.headers.get('content-security-policy')).to.contain("connect-src 'self'");
      const html = await page.text();
      const script = /src="\.\/(assets\/[^"]+\.js)"/.exec(html)?.[1];
      expect(script, html).to.be.a('string');
      const asset = await fetch(`${web.url}/${script}`);
      expect(asset.headers.get('content-type')).to.contain('text/javascript');
      expect(asset.headers.get('cache-control')).to.contain('immutable');

      const deployment = await json(await fetch(`${web.url}/deployment.json`));
      expect(deployment.contracts.RatingGovernor).to.equal(await dao.governor.getAddress());
    });

    it('answers 404 for files outside the app, and for a missing deployment record a sentence that says why', async () => {
      for (const path of ['/../package.json', '/%2e%2e/package.json', '/.nrp-build.json', '/nope.js']) {
        expect((await fetch(`${web.url}${path}`)).status, path).to.equal(404);
      }
      const bare = await startTestWeb({ rpcUrl: rpc.url, deployment: null });
      try {
        const missing = await fetch(`${bare.url}/deployment.json`);
        expect(missing.status).to.equal(404);
        expect((await json(missing)).error).to.contain('--deployment');
      } finally {
        await bare.close();
      }
    });

    it('refuses other hosts (DNS rebinding) and POSTs from other sites or as forms', async () => {
      // fetch() cannot set Host; a page on a rebound domain would send its own.
      const rebound = await new Promise<number | undefined>((resolve, reject) => {
        const request = httpRequest(`${web.url}/deployment.json`, { headers: { host: 'evil.example' } }, (res) => {
          res.resume();
          resolve(res.statusCode);
        });
        request.on('error', reject);
        request.end();
      });
      expect(rebound).to.equal(403);
      const crossSite = await fetch(`${web.url}/rpc`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', origin: 'https://evil.example' },
        body: '{"jsonrpc":"2.0","id":1,"method":"eth_chainId"}',
      });
      expect(crossSite.status).to.equal(403);
      const form = await fetch(`${web.url}/rpc`, {
        method: 'POST',
        headers: { 'content-type': 'text/plain' },
        body: '{"jsonrpc":"2.0","id":1,"method":"eth_chainId"}',
      });
      expect(form.status).to.equal(415);
    });
  });

  describe('/rpc', () => {
    it('forwards reads and batches to the chain', async () => {
      expect((await json(await rpcCall('eth_chainId'))).result).to.equal('0x7a69');
      const batch = await fetch(`${web.url}/rpc`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify([
          { jsonrpc: '2.0', id: 1, method: 'eth_chainId' },
          { jsonrpc: '2.0', id: 2, method: 'net_version' },
        ]),
      });
      expect(((await batch.json()) as Answer[]).map((answer) => answer.id)).to.deep.equal([1, 2]);
    });

    it('refuses to sign with the node’s accounts, and methods outside eth_, net_ and web3_', async () => {
      for (const method of ['eth_sendTransaction', 'eth_accounts', 'personal_sign', 'hardhat_setBalance']) {
        const answer = await rpcCall(method);
        expect(answer.status, method).to.equal(403);
        expect((await json(answer)).error, method).to.contain(method);
      }
      const bad = await fetch(`${web.url}/rpc`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: 'not json',
      });
      expect(bad.status).to.equal(400);
    });

    it('moves the clock on the local chain only', async () => {
      expect((await rpcCall('evm_mine')).status).to.equal(200);
      const mainnet = await fakeMainnet();
      const remote = await startTestWeb({ rpcUrl: mainnet.url, deployment: null });
      try {
        const refused = await rpcCall('evm_increaseTime', [60], remote.url);
        expect(refused.status).to.equal(403);
        expect((await json(refused)).error).to.contain('local development chain only');
      } finally {
        await remote.close();
        await new Promise((resolve) => mainnet.server.close(resolve));
      }
    });

    it('says clearly when the chain cannot be reached, and never shows the RPC’s path (which may hold a key)', async () => {
      const down = await startTestWeb({ rpcUrl: 'http://127.0.0.1:9/v3/secret-key', deployment: null });
      try {
        const answer = await rpcCall('eth_chainId', [], down.url);
        expect(answer.status).to.equal(502);
        const { error } = await json(answer);
        expect(error).to.contain('cannot reach the chain RPC at http://127.0.0.1:9');
        expect(error).to.not.contain('secret-key');
        const status = await json(await fetch(`${down.url}/api/status`));
        expect(status.rpc).to.equal('http://127.0.0.1:9');
      } finally {
        await down.close();
      }
    });
  });

  describe('/ipfs and /pins', () => {
    it('serves a block from a peer, and a local one', async () => {
      const remote = await cborBlock({ hello: 'from the peer' });
      await peer.blockstore.put(remote.cid, remote.bytes);
      const fetched = await fetch(`${web.url}/ipfs/${remote.cid}`);
      expect(fetched.status).to.equal(200);
      expect(fetched.headers.get('content-type')).to.equal('application/vnd.ipld.raw');
      expect(new Uint8Array(await fetched.arrayBuffer())).to.deep.equal(remote.bytes);
    });

    it('answers 504 with a sentence when no peer sends a block in time, and 400 for a bad CID', async () => {
      const missing = await rawBlock('nobody has this');
      const started = Date.now();
      const answer = await fetch(`${web.url}/ipfs/${missing.cid}`);
      expect(answer.status).to.equal(504);
      expect((await json(answer)).error).to.match(/no IPFS peer sent block .* within 1 s \(1 peer connected\)/);
      expect(Date.now() - started).to.be.lessThan(5_000);
      expect((await fetch(`${web.url}/ipfs/not-a-cid`)).status).to.equal(400);
    });

    it('with no peer connected, fails at once and says what to do', async () => {
      const lonely = await startTestWeb({ rpcUrl: rpc.url, deployment: null, blockTimeoutMs: 30_000 });
      try {
        const started = Date.now();
        const answer = await fetch(`${lonely.url}/ipfs/${(await rawBlock('x')).cid}`);
        expect(answer.status).to.equal(504);
        expect((await json(answer)).error).to.contain('no IPFS peer is connected');
        expect(Date.now() - started).to.be.lessThan(5_000);
      } finally {
        await lonely.close();
      }
    });

    it('stores a block the app built only if it matches its CID, and pins the DAG under a root', async () => {
      const leaf = await cborBlock({ ids: new Uint8Array(32) });
      const root = await cborBlock({ chunks: [leaf.cid] });
      const post = (path: string, body: Uint8Array<ArrayBuffer> | string, type = 'application/vnd.ipld.raw') =>
        fetch(`${web.url}${path}`, { method: 'POST', headers: { 'content-type': type }, body });

      const forged = await post(`/ipfs/${root.cid}`, leaf.bytes as Uint8Array<ArrayBuffer>);
      expect(forged.status).to.equal(400);
      expect((await json(forged)).error).to.contain('do not hash to');
      expect(await web.helia.blockstore.has(root.cid)).to.equal(false);
      const tooBig = await post(`/ipfs/${root.cid}`, new Uint8Array(1024 * 1024 + 1));
      expect(tooBig.status).to.equal(413);

      for (const block of [leaf, root]) {
        const stored = await post(`/ipfs/${block.cid}`, block.bytes as Uint8Array<ArrayBuffer>);
        expect(stored.status, await stored.clone().text()).to.equal(200);
      }
      const pinned = await post(`/pins/${root.cid}`, '{}', 'application/json');
      expect(await pinned.json()).to.deep.equal({ cid: root.cid.toString(), pinned: true });
      expect((await web.helia.pins.get(root.cid)).depth).to.equal(Number.POSITIVE_INFINITY);
      // The peer can now fetch the pinned payload from the web server's node.
      await peer.libp2p.dial(web.helia.libp2p.getMultiaddrs()[0]);
      const chunks: Uint8Array[] = [];
      for await (const chunk of peer.blockstore.get(leaf.cid, { signal: AbortSignal.timeout(10_000) }))
        chunks.push(chunk);
      expect(chunks.length).to.be.greaterThan(0);
    });
  });

  describe('the build', () => {
    it('is rebuilt when a source it bundled changed, and reused otherwise', async () => {
      expect((await ensureWebBuild()).built).to.equal(false);
      const dir = await mkdtemp(join(tmpdir(), 'nrp-web-build-'));
      try {
        const copy = join(dir, 'web');
        await cp(WEB_BUILD_DIR, copy, { recursive: true });
        const stamp = JSON.parse(await readFile(join(copy, '.nrp-build.json'), 'utf8'));
        expect(stamp.inputs).to.include('src/lists/merkle.ts').and.to.include('src/chain/abis.ts');
        expect((await ensureWebBuild({ outDir: copy })).built).to.equal(false);
        // As if src/lists/merkle.ts had changed since the build.
        await writeFile(join(copy, '.nrp-build.json'), JSON.stringify({ ...stamp, hash: 'stale' }));
        const reasons: string[] = [];
        expect((await ensureWebBuild({ outDir: copy, onBuild: (reason) => reasons.push(reason) })).built).to.equal(
          true,
        );
        expect(reasons).to.deep.equal(['its sources changed']);
        expect(JSON.parse(await readFile(join(copy, '.nrp-build.json'), 'utf8')).hash).to.equal(stamp.hash);
      } finally {
        await removeDir(dir);
      }
    });
  });

  describe('nrp web', () => {
    let child: ChildProcess | undefined;
    let dir: string;

    after(async () => {
      if (child && child.exitCode === null) {
        const exited = new Promise((resolve) => child?.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
      await removeDir(dir);
    });

    it('serves the app from the command line until stopped', async () => {
      dir = await mkdtemp(join(tmpdir(), 'nrp-web-cli-'));
      const deployment = await writeTestDeployment(dao, join(dir, 'deployment.json'));
      const args = ['--json', '--rpc', rpc.url, '--deployment', deployment, 'web', '--port', '0'];
      child = spawnNrp(args, { NRP_DATA_DIR: join(dir, 'data') });
      const started = await new Promise<{ url: string; peerId: string; addresses: string[] }>((resolve, reject) => {
        let text = '';
        child?.stdout?.on('data', (chunk) => {
          text += chunk;
          try {
            resolve(JSON.parse(text));
          } catch {
            // Not the whole document yet.
          }
        });
        child?.once('exit', (code) => reject(new Error(`nrp web exited with ${code}`)));
      });
      expect(started.url).to.match(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(started.addresses.length).to.be.greaterThan(0);
      expect((await fetch(started.url)).status).to.equal(200);
      const record = await json(await fetch(`${started.url}/deployment.json`));
      expect(record.contracts.IllegalDataList).to.equal(await dao.list.getAddress());
      const exited = new Promise<number | null>((resolve) => child?.once('exit', resolve));
      child.kill('SIGTERM');
      expect(await exited).to.equal(0);
    });
  });
});
