import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { expect } from 'chai';
import { type DemoResult, runDemo, WorkDirNotEmptyError } from '../../src/demo/run.js';
import { removeDir } from '../helpers/dirs.js';

const ROOT = join(import.meta.dirname, '../..');

/** The processes whose command line names `dir`: every node and server of a demo run names its work dir. */
function processesUsing(dir: string): string[] {
  const out = execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' });
  return out
    .split('\n')
    .filter((line) => line.includes(dir) && !line.includes('ps -eo'))
    .map((line) => line.trim());
}

/** `npm run demo -- <args>`, as CI runs it: a child process on this Node. */
function startDemo(args: string[]): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/demo.ts', ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, DEBUG: '' },
  });
  let output = '';
  child.stdout?.on('data', (chunk) => {
    output += chunk;
  });
  child.stderr?.on('data', (chunk) => {
    output += chunk;
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

async function waitForOutput(run: ReturnType<typeof startDemo>, pattern: RegExp, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (!pattern.test(run.output())) {
    if (Date.now() > deadline) throw new Error(`no ${pattern} in the demo's output:\n${run.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/**
 * The short variant of `npm run demo` that CI runs: the whole story with 8 real nodes, 2 + 1 real rating servers
 * and the in-process chain, as child processes. It passes only if the demo's own end-to-end claims held.
 */
describe('npm run demo', function () {
  this.timeout(15 * 60_000);
  const dirs: string[] = [];

  // A failed run's work dir is kept, with every node's and server's log, for whoever reads the failure.
  afterEach(async function () {
    const dir = dirs.pop();
    if (dir && this.currentTest?.state === 'passed') await removeDir(dir);
    else if (dir) console.error(`kept the demo's work dir: ${dir}`);
  });

  it('refuses a work dir that an earlier run used, before starting anything', async () => {
    const workDir = await mkdtemp(join(tmpdir(), 'nrp-demo-test-'));
    await writeFile(join(workDir, 'deployment.json'), '{}');
    try {
      const out = new PassThrough();
      const failure = await runDemo({
        nodes: 8,
        seed: 1,
        keep: false,
        workDir,
        out,
        signal: new AbortController().signal,
      })
        .then(() => undefined)
        .catch((error: Error) => error);
      expect(failure).to.be.instanceOf(WorkDirNotEmptyError);
      expect(failure?.message).to.include(workDir).and.to.include('not empty');
    } finally {
      await removeDir(workDir);
    }
  });

  it('tells the whole story with 8 nodes, every claim holds, and it leaves no process behind', async () => {
    const workDir = await mkdtemp(join(tmpdir(), 'nrp-demo-test-'));
    dirs.push(workDir);
    const run = startDemo(['--nodes', '8', '--seed', '7', '--work-dir', workDir]);
    const code = await run.exited;
    const output = run.output();
    const lines = output.trim().split('\n');
    const result = JSON.parse(lines[lines.length - 1]) as DemoResult;
    expect(code, output).to.equal(0);
    expect(result).to.include({ ok: true, nodes: 8, seed: 7 });
    expect(result.claims).to.deep.equal({
      cleanSharingReachesEveryone: true,
      inspectionMatchesProposal: true,
      listedContentDropped: true,
      originBlackedByBothServers: true,
      noHonestNodeRatedBadly: true,
      highPriorityFollowersDisconnect: true,
      lowPriorityOnlyFollowersDelay: true,
      listedContentReachedNoHonestNode: true,
      noHonestNodeHoldsListedContent: true,
      onlyDelayingNodesStayConnected: true,
      forkFollowersReceiveDisputedItem: true,
      othersStillRefuseDisputedItem: true,
    });
    // The final table: the distributor is black at both servers and holds its files; no node on the DAO's list
    // holds a listed file; the fork's followers hold the disputed one again.
    expect(result.table).to.have.length(8);
    const distributor = result.table.find((row) => row.role === 'distributor');
    expect(distributor?.verdicts).to.include('s1 black').and.to.include('s2 black');
    expect(distributor?.listedHeld).to.not.equal('no');
    expect(distributor?.penalisedBy)
      .to.match(/cut by/)
      .and.to.match(/delayed by/);
    const onDaoList = result.table.filter((row) => row.role === 'honest');
    const onFork = result.table.filter((row) => row.role === 'honest, fork');
    expect(onDaoList.length).to.be.at.least(3);
    expect(onFork.length).to.be.at.least(2);
    for (const row of onDaoList) expect(row.listedHeld, row.name).to.equal('no');
    for (const row of onFork) expect(row.listedHeld, row.name).to.match(/game-patch\.exe/);
    for (const heading of ['1/7 Clean sharing', '4/7 The servers infer the origin', '7/7 Protest fork']) {
      expect(output).to.include(heading);
    }
    expect(processesUsing(workDir), 'processes left behind').to.deep.equal([]);
  });

  it('stops every process it started on Ctrl-C', async () => {
    const workDir = await mkdtemp(join(tmpdir(), 'nrp-demo-test-'));
    dirs.push(workDir);
    const run = startDemo(['--nodes', '6', '--work-dir', workDir]);
    try {
      // Once the rating servers run, there are children to clean up.
      await waitForOutput(run, /servers 1 and 2 are active/, 5 * 60_000);
      expect(processesUsing(workDir).length, 'the servers run').to.be.at.least(2);
      run.child.kill('SIGINT');
      const code = await run.exited;
      expect(code, run.output()).to.equal(130);
      expect(run.output()).to.include('interrupted (Ctrl-C)');
      expect(processesUsing(workDir), 'processes left behind').to.deep.equal([]);
    } finally {
      run.child.kill('SIGKILL');
    }
  });
});
