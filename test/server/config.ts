import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { loadServerConfig, parseServerConfig, ServerConfigError } from '../../src/server/config.js';
import { DEFAULT_GRACE_MS, DEFAULT_HALF_LIFE_MS, DEFAULT_VERDICT_TTL_MS } from '../../src/server/inference.js';
import { removeDir } from '../helpers/dirs.js';

describe('rating server configuration', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nrp-server-config-'));
  });
  afterEach(async () => {
    await removeDir(dir);
  });

  it('fills in the inference policy’s defaults, and takes a stricter one from YAML', async () => {
    expect(parseServerConfig({}).inference).to.deep.equal({
      graceMs: DEFAULT_GRACE_MS,
      beforeWeight: 1,
      afterWeight: 4,
      halfLifeMs: DEFAULT_HALF_LIFE_MS,
      verdictTtlMs: DEFAULT_VERDICT_TTL_MS,
      reportingOriginGrace: true,
    });
    const path = join(dir, 'server.yaml');
    await writeFile(
      path,
      ['dataDir: data', 'inference:', '  reportingOriginGrace: false', '  graceMs: 0', '  afterWeight: 8'].join('\n'),
    );
    const config = await loadServerConfig(path);
    expect(config.dataDir).to.equal(join(dir, 'data'));
    expect(config.inference).to.deep.include({
      reportingOriginGrace: false,
      graceMs: 0,
      afterWeight: 8,
      beforeWeight: 1,
    });
  });

  it('takes the Governor whose proposed versions the server keeps, and refuses one that is not an address', () => {
    const governor = '0x5FbDB2315678afecb367f032d93F642f64180aa3';
    expect(parseServerConfig({ chain: { governor } }).chain.governor).to.equal(governor);
    expect(parseServerConfig({}).chain.governor).to.equal(undefined);
    expect(() => parseServerConfig({ chain: { governor: '0x1234' } }, dir, 'server.yaml'))
      .to.throw(ServerConfigError)
      .with.property('message')
      .that.matches(/chain\.governor.*not an Ethereum address/s);
  });

  it('lists every problem in the inference policy, with where it is', () => {
    const bad = {
      maxConnections: 0,
      inference: { graceMs: -1, afterWeight: 0, halfLifeMs: 1.5, reportingOriginGrace: 'no', typo: 1 },
    };
    try {
      parseServerConfig(bad, dir, 'server.yaml');
      expect.fail('accepted a bad configuration');
    } catch (error) {
      expect(error).to.be.instanceOf(ServerConfigError);
      const message = (error as Error).message;
      expect(message).to.match(/^server\.yaml is not a valid server configuration/);
      for (const where of [
        'maxConnections',
        'inference.graceMs',
        'inference.afterWeight',
        'inference.halfLifeMs',
        'inference.reportingOriginGrace',
        'inference',
      ]) {
        expect(message).to.contain(`- ${where}:`);
      }
    }
  });
});
