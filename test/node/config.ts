import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { loadNodeConfig, NodeConfigError, parseNodeConfig } from '../../src/node/config.js';
import { removeDir } from '../helpers/dirs.js';

/** A real peer id (Ed25519), as a server's would be. */
const SERVER = '12D3KooWQ5fQ52DX2bkRf733PKkFzG5ygrVjEbkXcmRDinfWAFci';

describe('node configuration', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nrp-config-'));
  });
  afterEach(async () => {
    await removeDir(dir);
  });

  it('reads YAML with defaults, resolving paths from the file’s folder', async () => {
    const path = join(dir, 'node.yaml');
    await writeFile(
      path,
      [
        'dataDir: data',
        'servers:',
        `  - peerId: ${SERVER}`,
        '    priority: high',
        'localLists: [extra.deny]',
        'chain:',
        '  deployment: ../deployments/localhost.json',
      ].join('\n'),
    );
    const config = await loadNodeConfig(path);
    expect(config.dataDir).to.equal(join(dir, 'data'));
    expect(config.localLists).to.deep.equal([join(dir, 'extra.deny')]);
    expect(config.chain.deployment).to.equal(join(dir, '..', 'deployments/localhost.json'));
    expect(config.chain.rpc).to.equal('http://127.0.0.1:8545');
    expect(config.intervals.reportMs).to.equal(60_000);
    expect(config.servers[0]).to.deep.equal({ peerId: SERVER, priority: 'high' });
  });

  it('names a server peer id that is not one, such as the README’s placeholder left in the file', async () => {
    const path = join(dir, 'nrp-node.yaml');
    await writeFile(path, ['servers:', '  - peerId: 12D3KooW…', '    priority: high'].join('\n'));
    await loadNodeConfig(path).then(
      () => expect.fail('accepted a placeholder peer id'),
      (error) => {
        expect(error).to.be.instanceOf(NodeConfigError);
        expect(error.message).to.contain('- servers.0.peerId: not a libp2p peer id');
      },
    );
  });

  it('lists every problem, with where it is', () => {
    const bad = {
      listen: ['tcp/4001'],
      servers: [{ peerId: 'x', priority: 'urgent' }],
      lists: ['0x123'],
      chain: { rpc: 'not a url', surprise: true },
      penalties: { delayMs: 3_600_000 },
      unknown: 1,
    };
    try {
      parseNodeConfig(bad, dir, 'node.yaml');
      expect.fail('accepted a bad configuration');
    } catch (error) {
      expect(error).to.be.instanceOf(NodeConfigError);
      const message = (error as Error).message;
      for (const where of [
        'listen.0',
        'servers.0.peerId',
        'servers.0.priority',
        'lists.0',
        'chain.rpc',
        'chain',
        'penalties.delayMs',
        '(top)',
      ]) {
        expect(message).to.contain(`- ${where}:`);
      }
      expect(message).to.contain('held adverts must still be fresh');
    }
  });

  it('listens on TCP by default, and takes WebSockets addresses but nothing it cannot listen on', () => {
    expect(parseNodeConfig({}, dir).listen).to.deep.equal(['/ip4/127.0.0.1/tcp/4001']);
    const listen = [
      '/ip4/0.0.0.0/tcp/4001',
      '/ip4/0.0.0.0/tcp/4002/ws',
      '/ip6/::1/tcp/4003/ws',
      '/dns4/localhost/tcp/1',
    ];
    expect(parseNodeConfig({ listen }, dir).listen).to.deep.equal(listen);
    for (const bad of [
      '/ip4/0.0.0.0/udp/4001/quic-v1',
      '/ip4/1.2.3.4/tcp/1/wss/p2p/x',
      '/ip4/999.0.0.1/tcp/1',
      '/tcp/1',
    ]) {
      expect(() => parseNodeConfig({ listen: [bad] }, dir), bad).to.throw(NodeConfigError, /- listen\.0: /);
    }
  });

  it('says clearly when the file is missing or not YAML', async () => {
    await loadNodeConfig(join(dir, 'missing.yaml')).then(
      () => expect.fail('read a missing file'),
      (error) => expect(error.message).to.match(/Cannot read .*missing\.yaml: ENOENT/),
    );
    const path = join(dir, 'broken.yaml');
    await writeFile(path, 'servers: [unclosed');
    await loadNodeConfig(path).then(
      () => expect.fail('read broken YAML'),
      (error) => expect(error.message).to.contain('is not valid YAML'),
    );
  });
});
