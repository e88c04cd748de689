import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { writeTestDeployment } from './helpers/cli.js';
import { connection, type Dao, deployDao } from './helpers/dao.js';
import { removeDir } from './helpers/dirs.js';
import type { ProcessResult } from './helpers/process.js';
import {
  type BackgroundCommand,
  placeholdersIn,
  runShell,
  shellBlockAfter,
  startInBackground,
  withoutComment,
  writeNpxShim,
  yamlBlockStartingWith,
} from './helpers/readme.js';
import { serveChainOverHttp } from './helpers/rpc-server.js';
import { freePort } from './node/helpers/peers.js';

const ROOT = join(import.meta.dirname, '..');

/**
 * Where the README tells the reader each placeholder comes from: the output of an earlier command. The walk learns
 * them the same way, so a README that stops saying (or a command that stops printing) fails here.
 */
const LEARNED: [placeholder: string, from: RegExp][] = [
  ['<proposal-id>', /^Proposal (\d+)/m],
  ['<server-id>', /^(?:Applied as| {2}) ?rating server (\d+)/m],
  ['<server-peer-id>', /^ {2}peer id:? +(12D3KooW\w+)/m],
  ['<fork-server-peer-id>', /^ {2}rating server \d+ \((12D3KooW\w+)\)/m],
  ['<cid>', /^Added \S+ as (\S+) /m],
  ['<tip-id>', /^Tip (\d+) /m],
  ['<version>', /LISTED in version (\d+) of list/],
  ['<list>', /LISTED in version \d+ of list (0x[0-9a-fA-F]{40})/],
  ['<fork>', /^Fork (0x[0-9a-fA-F]{40}) of list/m],
  ['<fork-deployment>', /deployment record: (\S+)/],
  ['<peer-id>', /^Peers \(\d+\):\n {2}(\S+)/m],
];

/** The README's example values in configuration files, and the placeholder each stands for. */
const EXAMPLES: [example: string, placeholder: string][] = [
  ['12D3KooW…fork-server', '<fork-server-peer-id>'],
  ['12D3KooW…', '<server-peer-id>'],
];

/** A long-running command is ready when it says how to stop it. */
const READY = /Ctrl-C stops it/;

function log(command: string, began: number, output: string) {
  if (process.env.NRP_README_WALK_LOG) console.log(`$ ${command}  [${Date.now() - began} ms]\n${output}`);
}

/**
 * A reader going through the README: runs its commands with bash, writes the configuration files it shows when a
 * command first names one, fills each placeholder from the output the README says it comes from, and keeps the
 * commands that run until Ctrl-C going in the background, as another terminal would.
 */
class Reader {
  readonly values = new Map<string, string>();
  readonly running = new Map<string, BackgroundCommand>();
  readonly #written = new Set<string>();

  constructor(
    readonly readme: string,
    readonly cwd: string,
    readonly env: NodeJS.ProcessEnv,
    /** What differs on this machine from the README's: ports, the chain's URL, loopback only. */
    readonly machine: [RegExp, string][],
  ) {}

  /** A README text with this machine's settings and the values learned so far in place of its placeholders. */
  fill(text: string): string {
    let filled = text;
    for (const [from, to] of this.machine) filled = filled.replace(from, to);
    for (const [example, placeholder] of EXAMPLES) filled = filled.replaceAll(example, placeholder);
    for (const placeholder of placeholdersIn(filled)) {
      const value = this.values.get(placeholder);
      if (value === undefined) throw new Error(`${text}\nthe README never said where ${placeholder} comes from`);
      filled = filled.replaceAll(placeholder, value);
    }
    return filled;
  }

  /** Every command of the first shell block after `heading`, in order: each as written, with its output. */
  async runBlock(heading: string, options: { until?: (command: string) => RegExp | undefined } = {}) {
    const outputs: [command: string, output: string][] = [];
    for (const written of shellBlockAfter(this.readme, heading)) {
      outputs.push([written, await this.run(written, options.until?.(withoutComment(written)))]);
    }
    return outputs;
  }

  /**
   * Runs one README line (again, until its output matches `until`, for up to 90 s: a list sync that failed before
   * backs off for up to a minute) and learns from its output.
   */
  async run(written: string, until?: RegExp): Promise<string> {
    const command = this.fill(withoutComment(written));
    await this.writeConfigs(command);
    if (/ (node|server) start /.test(command)) return this.start(command);
    const deadline = Date.now() + 90_000;
    let result: ProcessResult;
    for (;;) {
      const began = Date.now();
      result = await runShell(command, { cwd: this.cwd, env: this.env });
      log(command, began, result.stdout + result.stderr);
      expect(result.code, `$ ${command}\n${result.stdout}${result.stderr}`).to.equal(0);
      if (!until || until.test(result.stdout) || Date.now() > deadline) break;
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    this.learn(result.stdout + result.stderr);
    return result.stdout;
  }

  async start(command: string): Promise<string> {
    const config = /--config (\S+)/.exec(command)?.[1] ?? command;
    const began = Date.now();
    // A start waits for the first list sync, which can take a payload fetch's whole timeout (30 s).
    const started = await startInBackground(command, {
      cwd: this.cwd,
      env: this.env,
      ready: READY,
      timeoutMs: 120_000,
    });
    log(`${command} &`, began, started.output());
    this.running.set(config, started);
    this.learn(started.output());
    return started.output();
  }

  /** Ctrl-C to the command running on `config`; its exit code. */
  async stop(config: string): Promise<number | null> {
    const running = this.running.get(config);
    this.running.delete(config);
    return (await running?.interrupt()) ?? null;
  }

  learn(output: string) {
    for (const [placeholder, from] of LEARNED) {
      const value = from.exec(output)?.[1];
      if (value !== undefined) this.values.set(placeholder, value);
    }
  }

  /** Saves the README's block for each configuration file the command names, the first time one is named. */
  async writeConfigs(command: string) {
    for (const [, name] of command.matchAll(/(\S+\.yaml)\b/g)) {
      if (this.#written.has(name as string)) continue;
      const block = yamlBlockStartingWith(this.readme, `# ${name}`);
      await writeFile(join(this.cwd, name as string), this.fill(block));
      this.#written.add(name as string);
    }
  }
}

/**
 * Walks the README as a newcomer does, section after section on one chain, one home directory and one working
 * directory: governance from the command line, a rating server voted in, a node following it, a tip-off that
 * becomes a listing, and a protest fork of that listing with its own server, to which the node then moves. Every
 * command is read from README.md now and run with bash as written, but for the placeholders the README tells the
 * reader to fill from earlier output, and for what differs on this machine: ports (free ones instead of the
 * README's), the chain's URL, and 127.0.0.1 instead of 0.0.0.0, since tests listen on loopback only. The chain is the
 * in-process one, served over HTTP and mining a block a second like `npm run chain`; `npx nrp` is this checkout's.
 * NRP_README_WALK_LOG=1 prints every command with its output. (test/readme.ts checks that every command the README
 * names exists; this one runs them.)
 */
describe('README walk', function () {
  this.timeout(600_000);
  this.bail(true);
  let dao: Dao;
  let rpc: Awaited<ReturnType<typeof serveChainOverHttp>>;
  let dir: string;
  let reader: Reader;

  before(async () => {
    dao = await deployDao();
    rpc = await serveChainOverHttp();
    dir = await mkdtemp(join(tmpdir(), 'nrp-readme-walk-'));
    const work = join(dir, 'work');
    await mkdir(join(work, 'deployments'), { recursive: true });
    await writeNpxShim(join(dir, 'bin'));
    const env = {
      PATH: `${join(dir, 'bin')}:${process.env.PATH}`,
      HOME: join(dir, 'home'),
      NRP_RPC_URL: rpc.url,
      // Where `npm run chain` writes it in a clone, and where the configurations' relative paths find it.
      NRP_DEPLOYMENT: await writeTestDeployment(dao, join(work, 'deployments', 'localhost.json')),
    };
    const machine: [RegExp, string][] = [
      [/http:\/\/127\.0\.0\.1:8545/g, rpc.url],
      [/\/ip4\/0\.0\.0\.0\//g, '/ip4/127.0.0.1/'],
    ];
    for (const port of [4001, 4100, 4200, 8790, 8791]) {
      machine.push([new RegExp(`\\b${port}\\b`, 'g'), String(await freePort())]);
    }
    reader = new Reader(await readFile(join(ROOT, 'README.md'), 'utf8'), work, env, machine);
    await connection.provider.request({ method: 'evm_setIntervalMining', params: [1000] });
  });

  after(async () => {
    for (const config of [...(reader?.running.keys() ?? [])]) await reader.stop(config);
    await connection.provider.request({ method: 'evm_setIntervalMining', params: [0] });
    await rpc?.close();
    if (dir) await removeDir(dir);
  });

  it('Governance: the list ends at the new version with the entry listed', async () => {
    const block = shellBlockAfter(reader.readme, 'Governance: changing a list from the command line');
    for (const step of ['nrp list propose', 'nrp proposal inspect', 'nrp vote', 'nrp queue', 'nrp execute']) {
      expect(block.join('\n'), `the block still ${step}s`).to.contain(step);
    }
    const versionBefore = await dao.list.currentVersion();

    const outputs = await reader.runBlock('Governance: changing a list from the command line');

    const inspected = outputs.find(([command]) => command.includes('nrp proposal inspect'))?.[1];
    expect(inspected).to.contain('OK: every call was decoded and every payload matches its proposal.');
    expect(await dao.list.currentVersion()).to.equal(versionBefore + 1n);
    expect(block.at(-1)).to.match(/nrp list check/);
    expect(outputs.at(-1)?.[1]).to.match(new RegExp(`^LISTED in version ${versionBefore + 1n} `));
  });

  it('Running a rating server: registered, voted in, started, answering', async () => {
    // "policy.md is your rating policy, any document (policies/default-list-policy.md is one)."
    await copyFile(join(ROOT, 'policies/default-list-policy.md'), join(reader.cwd, 'policy.md'));

    const outputs = await reader.runBlock('Running a rating server');

    const serverId = reader.values.get('<server-id>');
    expect(outputs.find(([command]) => command.includes('server status'))?.[1]).to.contain(
      `Rating server ${serverId}: active`,
    );
    const [curl, answer] = outputs.at(-1) as [string, string];
    expect(curl).to.match(/^curl /);
    // The server's signed verdict snapshot, empty for now: no node reports to it yet.
    expect(JSON.parse(answer))
      .to.include({ server: reader.values.get('<server-peer-id>') })
      .and.have.property('verdicts')
      .that.deep.equals([]);
  });

  it('Running a node: started on the server, adds a file, and explains a peer', async () => {
    await writeFile(join(reader.cwd, 'photo.jpg'), randomBytes(20_000));

    const outputs = await reader.runBlock('Running a node', {
      // The node dials the server it follows as it starts; the reader looks again until it shows.
      until: (command) => (command.includes('node status') ? /^Peers \([1-9]/m : undefined),
    });

    expect(reader.values.get('<cid>')).to.match(/^bafkrei/);
    expect(outputs.find(([command]) => command.includes('node status'))?.[1]).to.contain(
      reader.values.get('<server-peer-id>'),
    );
    expect(outputs.at(-1)?.[1]).to.contain(`Peer ${reader.values.get('<peer-id>')} is connected.`);
  });

  it('Tip-offs: a signed tip, accepted and proposed, is voted into the list', async () => {
    const versionBefore = await dao.list.currentVersion();

    const outputs = await reader.runBlock('Tip-offs');
    expect(outputs[0]?.[1]).to.match(/^Tip \d+ sent to rating server/);
    // "holders inspect and vote it as in Governance steps 2 to 4"
    const governance = shellBlockAfter(reader.readme, 'Governance: changing a list from the command line');
    const vote = governance.filter((command) => command.includes('<proposal-id>') || command.includes('dev advance'));
    for (const command of vote) await reader.run(command);

    const version = versionBefore + 1n;
    expect(await dao.list.currentVersion()).to.equal(version);
    // The server kept the payload, so it and the node that follows it enforce the new version.
    const list = await dao.list.getAddress();
    const inForce = new RegExp(`${list} +version ${version},`);
    const status = await reader.run('npx nrp node status --config nrp-node.yaml', inForce);
    expect(status).to.match(inForce);
    // The node deleted its copy of what is now listed: the file it added.
    expect(status).to.contain('Content held: 0;');
  });

  it('Protest forks: the fork leaves the tipped entry out, and its server is voted in and started', async () => {
    await copyFile(join(ROOT, 'policies/default-list-policy.md'), join(reader.cwd, 'fork-policy.md'));

    const outputs = await reader.runBlock('Protest forks');

    const fork = reader.values.get('<fork>');
    const output = (part: string) => outputs.find(([command]) => withoutComment(command).endsWith(part))?.[1];
    expect(output('list show --list <fork> --entries')).to.match(
      new RegExp(`fork of: +${reader.values.get('<list>')} at version ${reader.values.get('<version>')}\n`),
    );
    expect(output('list check <cid> --list <fork>')).to.match(new RegExp(`^Not listed in version 1 of list ${fork}`));
    expect(outputs.filter(([command]) => withoutComment(command).endsWith('list check <cid>')).at(-1)?.[1]).to.match(
      /^LISTED /,
    );
    expect(output('server status --server-dir ./fork-server')).to.contain(
      `Rating server ${reader.values.get('<server-id>')}: active`,
    );
    expect(reader.running.has('nrp-fork-server.yaml')).to.equal(true);
  });

  it("Nodes switch: the node moved to the fork's server enforces the fork's list, not the parent's", async () => {
    // "replaces the parent's server with the fork's in its configuration and restarts"
    const servers = reader.fill(yamlBlockStartingWith(reader.readme, 'servers:'));
    const path = join(reader.cwd, 'nrp-node.yaml');
    const config = await readFile(path, 'utf8');
    const switched = config.replace(/^servers:.*\n(?: {2}.*\n)+/m, servers);
    expect(switched).not.to.equal(config);
    await writeFile(path, switched);
    expect(await reader.stop('nrp-node.yaml')).to.equal(0);

    const start = shellBlockAfter(reader.readme, 'Running a node').find((command) => command.includes('node start'));
    await reader.run(start as string);
    const fork = reader.values.get('<fork>') as string;
    const status = await reader.run('npx nrp node status --config nrp-node.yaml', new RegExp(`${fork} +version 1,`));

    expect(status).to.match(new RegExp(`${fork} +version 1,`));
    expect(status).not.to.contain(reader.values.get('<list>'));
  });

  it('Ctrl-C stops the node and both servers cleanly', async () => {
    for (const config of ['nrp-node.yaml', 'nrp-fork-server.yaml', 'nrp-server.yaml']) {
      expect(await reader.stop(config), config).to.equal(0);
    }
  });
});
