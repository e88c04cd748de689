import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { ChildExitedError, ProcessSupervisor } from '../../src/demo/processes.js';
import { removeDir } from '../helpers/dirs.js';

/** Whether `pid` runs: an exited child that nobody has reaped yet (a zombie) does not. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
  }
}

async function until(what: string, check: () => boolean, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('demo processes', function () {
  this.timeout(180_000);
  let dir: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nrp-demo-processes-'));
  });

  afterEach(async () => {
    await removeDir(dir);
  });

  it('runs a one-shot nrp command and fails with its own error line, logged', async () => {
    const supervisor = new ProcessSupervisor(join(dir, 'logs'));
    const missing = join(dir, 'missing.json');
    const failure = await supervisor
      .runNrp('bad-node', ['node', 'start', '--config', missing], { timeoutMs: 120_000 })
      .then(
        () => undefined,
        (error: Error) => error,
      );
    expect(failure).to.be.instanceOf(ChildExitedError);
    expect(failure?.message).to.match(/bad-node failed: Cannot read .*missing\.json: ENOENT/);
    const log = await readFile(join(dir, 'logs', 'bad-node.log'), 'utf8');
    expect(log).to.include('nrp node start --config').and.to.include('ENOENT').and.to.include('exited: 1');
  });

  it('stops a running child on stop(), and notices when a child is gone', async () => {
    const supervisor = new ProcessSupervisor(join(dir, 'logs'));
    const child = await supervisor.startNrp('ipfs', [
      '--data-dir',
      join(dir, 'data'),
      'ipfs',
      'serve',
      '--listen',
      '/ip4/127.0.0.1/tcp/0',
    ]);
    const lines: string[] = [];
    child.onLine((line) => lines.push(line.text));
    await until('the IPFS node to serve', () => lines.some((line) => line.startsWith('IPFS node')), 120_000);
    expect(child.running).to.equal(true);
    expect(() => child.assertRunning()).to.not.throw();
    await supervisor.stopAll();
    expect(child.running).to.equal(false);
    expect(alive(child.pid as number)).to.equal(false);
    expect(() => child.assertRunning()).to.throw(ChildExitedError, /ipfs exited/);
  });

  it('leaves no child behind when the demo itself is killed with SIGKILL', async () => {
    const parent = spawn(
      process.execPath,
      ['--import', 'tsx', join(import.meta.dirname, 'helpers/orphan-parent.ts'), join(dir, 'logs'), join(dir, 'data')],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let output = '';
    parent.stdout?.on('data', (chunk) => {
      output += chunk;
    });
    try {
      await until('the child to serve', () => /child \d+/.test(output), 120_000);
      const pid = Number(/child (\d+)/.exec(output)?.[1]);
      expect(alive(pid)).to.equal(true);
      parent.kill('SIGKILL');
      await until('the orphaned child to stop by itself', () => !alive(pid), 20_000);
    } finally {
      parent.kill('SIGKILL');
    }
  });
});
