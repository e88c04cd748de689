import { mkdtemp, stat } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import {
  ControlApiError,
  callControl,
  controlFile,
  NodeNotRunningError,
  startControlServer,
} from '../../src/node/control.js';
import { removeDir } from '../helpers/dirs.js';

describe('node control API', () => {
  let dir: string;
  let control: Awaited<ReturnType<typeof startControlServer>>;
  const added: { size: number; name?: string }[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nrp-control-'));
    control = await startControlServer(
      {
        status: async () => ({ peers: 3, big: 2n ** 70n }),
        why: async (peer) => {
          if (!peer.startsWith('12D3KooW')) throw new ControlApiError(`Not a peer id: ${peer}`);
          if (peer === '12D3KooWbug') throw new Error('a bug');
          return { peer };
        },
        add: async (bytes, name) => {
          added.push({ size: bytes.length, name });
          return { cid: 'bafy-test', size: bytes.length };
        },
      },
      { dataDir: dir },
    );
  });

  after(async () => {
    await control?.close();
    if (dir) await removeDir(dir);
  });

  it('answers the node’s user, found through control.json (mode 0600)', async () => {
    expect((await stat(controlFile(dir))).mode & 0o777).to.equal(0o600);
    expect(await callControl(dir, 'GET', '/status')).to.deep.equal({ peers: 3, big: (2n ** 70n).toString() });
    expect(await callControl(dir, 'GET', `/why/${encodeURIComponent('12D3KooWx')}`)).to.deep.equal({
      peer: '12D3KooWx',
    });
    expect(await callControl(dir, 'POST', '/content?name=photo.jpg', new Uint8Array(1000))).to.deep.equal({
      cid: 'bafy-test',
      size: 1000,
    });
    expect(added).to.deep.equal([{ size: 1000, name: 'photo.jpg' }]);
  });

  it('refuses a wrong token, unknown requests, bad input and oversized uploads, and keeps serving', async () => {
    const { url, token } = control.endpoint;
    const wrongToken = await fetch(`${url}/status`, { headers: { authorization: 'Bearer nope' } });
    expect(wrongToken.status).to.equal(401);
    const noToken = await fetch(`${url}/status`);
    expect(noToken.status).to.equal(401);

    const refusal = (path: string, method: 'GET' | 'POST' = 'GET') =>
      callControl(dir, method, path).then(
        () => expect.fail(`${method} ${path} was accepted`),
        (error: Error) => error,
      );
    const unknown = await refusal('/nothing');
    expect(unknown).to.be.instanceOf(ControlApiError).with.property('status', 404);
    const notPeer = await refusal('/why/nonsense');
    expect(notPeer).to.be.instanceOf(ControlApiError).with.property('message', 'Not a peer id: nonsense');
    expect(notPeer).to.have.property('status', 400);
    const bug = await refusal('/why/12D3KooWbug');
    expect(bug).to.have.property('status', 500);
    expect(bug.message).to.equal('internal error');
    const badQuery = await refusal('/content?size=1', 'POST');
    expect(badQuery.message).to.contain('unknown query parameter "size"');

    // An upload over 256 MiB is refused from its declared length, before any byte is read.
    const oversized = await new Promise<number>((resolve, reject) => {
      const req = request(`${url}/content`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-length': String(257 * 2 ** 20) },
      });
      req.on('response', (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.flushHeaders();
    });
    expect(oversized).to.equal(413);

    expect(await callControl(dir, 'GET', '/status')).to.have.property('peers', 3);
    expect(added).to.have.length(1);
  });

  it('says no node is running where control.json is missing or nobody answers', async () => {
    const empty = join(dir, 'empty');
    const missing = await callControl(empty, 'GET', '/status').catch((error: Error) => error);
    expect(missing).to.be.instanceOf(NodeNotRunningError);
    expect((missing as Error).message).to.contain('No node is running on');

    const stopped = await startControlServer(
      { status: async () => ({}), why: async () => ({}), add: async () => ({}) },
      {
        dataDir: join(dir, 'stopped'),
      },
    );
    const { endpoint } = stopped;
    await stopped.close();
    const silent = await callControl(join(dir, 'stopped'), 'GET', '/status').catch((error: Error) => error);
    expect(silent).to.be.instanceOf(NodeNotRunningError);
    expect((silent as Error).message).to.contain(`does not answer at ${endpoint.url}`);
  });
});
