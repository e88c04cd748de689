/**
 * `npm run chain`: a local Hardhat chain on 127.0.0.1:8545 with a whole DAO
 * deployed on it, for nodes, servers and the CLI to use. Runs until Ctrl-C.
 *
 * The chain's own log goes to cache/chain.log.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import process from 'node:process';
import { setTimeout as sleep } from 'node:timers/promises';

const RPC_URL = 'http://127.0.0.1:8545';
const STARTUP_TIMEOUT_MS = 60_000;
const root = join(import.meta.dirname, '..');
const hardhat = join(root, 'node_modules/.bin/hardhat');

async function rpcReady(): Promise<boolean> {
  try {
    const response = await fetch(RPC_URL, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] }),
    });
    return response.ok;
  } catch {
    return false;
  }
}

function run(args: string[]): Promise<number> {
  return new Promise((resolve) => {
    spawn(hardhat, args, { cwd: root, stdio: 'inherit' }).on('exit', (code) => resolve(code ?? 1));
  });
}

if (await rpcReady()) {
  console.error(`Something already answers at ${RPC_URL}. Stop it, or deploy to it with: npm run deploy:local`);
  process.exit(1);
}

await mkdir(join(root, 'cache'), { recursive: true });
const logPath = join(root, 'cache/chain.log');
const log = createWriteStream(logPath);
const chain: ChildProcess = spawn(hardhat, ['node', '--hostname', '127.0.0.1', '--port', '8545'], {
  cwd: root,
  stdio: ['ignore', 'pipe', 'pipe'],
});
chain.stdout?.pipe(log);
chain.stderr?.pipe(log);
let chainExited = false;
chain.on('exit', (code) => {
  chainExited = true;
  if (!stopping) {
    console.error(`The chain stopped unexpectedly (exit code ${code}); see ${logPath}`);
    process.exit(1);
  }
});

let stopping = false;
function stop() {
  stopping = true;
  if (!chainExited) chain.kill('SIGTERM');
  process.exit(0);
}
process.on('SIGINT', stop);
process.on('SIGTERM', stop);

console.log(`Starting a local chain at ${RPC_URL} (log: ${logPath})…`);
const deadline = Date.now() + STARTUP_TIMEOUT_MS;
while (!(await rpcReady())) {
  if (Date.now() > deadline) {
    console.error(`The chain did not answer within ${STARTUP_TIMEOUT_MS / 1000} s; see ${logPath}`);
    stop();
  }
  await sleep(250);
}

if ((await run(['deploy-dao', '--network', 'localhost'])) !== 0) {
  console.error('Deploying the DAO failed; stopping the chain.');
  stopping = true;
  chain.kill('SIGTERM');
  process.exit(1);
}

console.log(`\nLocal chain ready at ${RPC_URL} with a DAO deployed (deployments/localhost.json).`);
console.log('Hardhat test accounts 0–4 hold the governance tokens. Press Ctrl-C to stop.');
