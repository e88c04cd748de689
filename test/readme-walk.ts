import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { writeTestDeployment } from './helpers/cli.js';
import { connection, type Dao, deployDao } from './helpers/dao.js';
import { placeholdersIn, runShell, shellBlockAfter, writeNpxShim } from './helpers/readme.js';
import { serveChainOverHttp } from './helpers/rpc-server.js';

/**
 * Walks the README as a newcomer does: the shell block of "Governance: changing a list from the command line" is
 * read from README.md now and run line by line with bash, unchanged but for the placeholders the README tells the
 * reader to fill (`<proposal-id>`, from what `list propose` printed). The chain is the in-process one, served
 * over HTTP and mining a block a second like `npm run chain`; the reader's defaults (127.0.0.1:8545,
 * deployments/localhost.json) point at it through NRP_RPC_URL and NRP_DEPLOYMENT, the variables the README's
 * settings table names, and HOME is a temp dir, so `~/.nrp` is a fresh data dir. (test/readme.ts checks that
 * every command the README names exists; this one runs them.)
 */
describe('README walk: governance from the command line', function () {
  this.timeout(180_000);
  const root = join(import.meta.dirname, '..');
  let dao: Dao;
  let rpc: Awaited<ReturnType<typeof serveChainOverHttp>>;
  let dir: string;
  let env: NodeJS.ProcessEnv;

  before(async () => {
    dao = await deployDao();
    rpc = await serveChainOverHttp();
    dir = await mkdtemp(join(tmpdir(), 'nrp-readme-walk-'));
    await mkdir(join(dir, 'work'));
    await writeNpxShim(join(dir, 'bin'));
    env = {
      PATH: `${join(dir, 'bin')}:${process.env.PATH}`,
      HOME: join(dir, 'home'),
      NRP_RPC_URL: rpc.url,
      NRP_DEPLOYMENT: await writeTestDeployment(dao, join(dir, 'localhost.json')),
    };
    await connection.provider.request({ method: 'evm_setIntervalMining', params: [1000] });
  });

  after(async () => {
    await connection.provider.request({ method: 'evm_setIntervalMining', params: [0] });
    await rpc?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('runs every command of the block, and the list ends at the new version with the entry listed', async () => {
    const readme = await readFile(join(root, 'README.md'), 'utf8');
    const commands = shellBlockAfter(readme, 'Governance: changing a list from the command line');
    for (const step of ['nrp list propose', 'nrp proposal inspect', 'nrp vote', 'nrp queue', 'nrp execute']) {
      expect(commands.join('\n'), `the block still ${step}s`).to.contain(step);
    }
    const versionBefore = await dao.list.currentVersion();

    const filled: Record<string, string> = {};
    const outputs: string[] = [];
    for (const written of commands) {
      let command = written;
      for (const placeholder of placeholdersIn(written)) {
        const value = filled[placeholder];
        expect(value, `${written}: the README never said where ${placeholder} comes from`).to.be.a('string');
        command = command.replaceAll(placeholder, value as string);
      }
      const { code, stdout, stderr } = await runShell(command, { cwd: join(dir, 'work'), env });
      expect(code, `$ ${command}\n${stdout}${stderr}`).to.equal(0);
      outputs.push(stdout);
      // "Its first line, "Proposal <proposal-id>", gives the id the next steps take."
      const proposal = /^Proposal (\d+)$/m.exec(stdout);
      if (/nrp list propose/.test(command) && proposal) filled['<proposal-id>'] = proposal[1] as string;
    }

    const inspected = outputs[commands.findIndex((command) => command.includes('nrp proposal inspect'))];
    expect(inspected).to.contain('OK: every call was decoded and every payload matches its proposal.');
    expect(await dao.list.currentVersion()).to.equal(versionBefore + 1n);
    expect(commands.at(-1)).to.match(/nrp list check/);
    expect(outputs.at(-1)).to.match(new RegExp(`^LISTED in version ${versionBefore + 1n} `));
  });
});
