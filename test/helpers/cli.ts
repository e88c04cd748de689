import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { daoContractsOf, writeDeployment } from '../../src/chain/deployment.js';
import { runCli } from '../../src/cli/main.js';
import { type ViemDao, viemDaoFixture } from '../chain/helpers.js';
import { type Dao, deployDao } from './dao.js';
import { completion } from './process.js';
import { serveChainOverHttp } from './rpc-server.js';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout parsed as JSON, for --json runs. */
  json: <T = Record<string, unknown>>() => T;
}

function collector() {
  let text = '';
  const stream = new Writable({
    write(chunk, _encoding, done) {
      text += chunk;
      done();
    },
  });
  return { stream, text: () => text };
}

/** Runs `nrp` in this process, as a user would type it, and captures its output. */
export async function nrp(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  const out = collector();
  const err = collector();
  const code = await runCli(args, { env: { PATH: process.env.PATH, ...env }, stdout: out.stream, stderr: err.stream });
  return { code, stdout: out.text(), stderr: err.text(), json: () => JSON.parse(out.text()) };
}

const BIN = join(import.meta.dirname, '../../bin/nrp.js');

/** Starts `nrp` as a separate process, as a second user or machine would run it. */
export function spawnNrp(args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  return spawn(process.execPath, [BIN, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/**
 * The first JSON document a long-running `nrp --json` process (`node start`, `server start`, `ipfs serve`)
 * prints once it is up. Rejects, with what it printed on stderr, if it exits first.
 */
export function firstJson<T = Record<string, unknown>>(child: ChildProcess): Promise<T> {
  return new Promise((resolve, reject) => {
    let text = '';
    let errors = '';
    child.stderr?.on('data', (d) => {
      errors += d;
    });
    child.stdout?.on('data', (d) => {
      text += d;
      try {
        resolve(JSON.parse(text));
      } catch {
        // Not a whole document yet.
      }
    });
    child.on('exit', (code) => reject(new Error(`nrp exited with ${code} before printing: ${errors}`)));
  });
}

/** Runs `nrp` as a separate process to completion. */
export async function runNrpProcess(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  const result = await completion(spawnNrp(args, env));
  return { ...result, json: () => JSON.parse(result.stdout) };
}

/** Writes the deployment record of `dao` to `path`, as `deploy-dao` would, for the CLI to read. */
export async function writeTestDeployment(dao: Dao, path: string): Promise<string> {
  await writeDeployment(path, {
    network: 'test',
    chainId: 31337,
    deploymentId: 'test',
    fromBlock: 0,
    deployedAt: new Date().toISOString(),
    contracts: await daoContractsOf(dao),
  });
  return path;
}

/** What a CLI test runs `nrp` against: a DAO on the in-process chain, served over HTTP, and a temp dir. */
export interface CliTestChain<D = Dao> {
  dao: D;
  rpc: Awaited<ReturnType<typeof serveChainOverHttp>>;
  /** A fresh temp dir, for the test to remove. */
  dir: string;
  /** The DAO's deployment record, in `dir`. */
  deployment: string;
  /** `--rpc <url> --deployment <file>`: the flags that point `nrp` at both. */
  base: string[];
}

/** Deploys a DAO, serves the chain over HTTP and writes the deployment record to a new temp dir. */
export async function startCliTestChain(prefix: string): Promise<CliTestChain> {
  const dao = await deployDao();
  return { dao, ...(await serveForCli(dao, prefix)) };
}

/** {@link startCliTestChain} with the DAO's viem addresses and wallets, for tests that also run servers. */
export async function startViemCliTestChain(prefix: string): Promise<CliTestChain<ViemDao>> {
  const dao = await viemDaoFixture();
  return { dao, ...(await serveForCli(dao.dao, prefix)) };
}

async function serveForCli(dao: Dao, prefix: string): Promise<Omit<CliTestChain, 'dao'>> {
  const rpc = await serveChainOverHttp();
  const dir = await mkdtemp(join(tmpdir(), prefix));
  const deployment = await writeTestDeployment(dao, join(dir, 'deployment.json'));
  return { rpc, dir, deployment, base: ['--rpc', rpc.url, '--deployment', deployment] };
}
