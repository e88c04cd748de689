import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Address } from 'viem';
import { DEMO_ACCOUNTS, type DemoChain } from './chain.js';
import type { DemoIpfsHost } from './ipfs-host.js';
import { FORK_LIST_POLICY, FORK_SERVER_POLICY } from './policies.js';
import type { ProcessSupervisor } from './processes.js';
import type { DemoServer } from './servers.js';

/** How long `nrp list fork` may take: it compiles nothing, but deploys four contracts through Ignition. */
const FORK_TIMEOUT_MS = 180_000;

export interface ProtestFork {
  list: Address;
  governor: Address;
  /** Entries of the fork's first version. */
  count: number;
  removed: number;
  /** The fork's rating server's id in the registry: applied, not yet active. */
  serverId: bigint;
}

export interface ForkThroughCliParameters {
  parentList: Address;
  parentVersion: bigint;
  /** The disputed entries, as CIDs. */
  remove: string[];
  /** Hardhat accounts that hold the fork's tokens (whole tokens each); the first signs. */
  holders: readonly number[];
  /** The fork's rating server, created (its key) but not started: the command stocks its store. */
  server: DemoServer;
  workDir: string;
}

/**
 * A protest fork as protesters make one, with `nrp list fork`: it reads the parent version from the proposers'
 * IPFS node, deploys the fork (token, timelock, Governor, and a list whose first version is the parent minus
 * the disputed entries) through the `ListFork` Ignition module, stocks the fork server's store with the fork's
 * payload and policy, and applies for that server in the registry.
 */
export async function forkThroughCli(
  chain: DemoChain,
  host: DemoIpfsHost,
  supervisor: ProcessSupervisor,
  parameters: ForkThroughCliParameters,
): Promise<ProtestFork> {
  const dir = join(parameters.workDir, 'protesters');
  const disputed = join(dir, 'disputed.txt');
  const policy = join(dir, 'fork-server-policy.md');
  await mkdir(dir, { recursive: true });
  await writeFile(disputed, `${parameters.remove.join('\n')}\n`);
  await writeFile(policy, FORK_SERVER_POLICY);
  const listPolicy = await host.addDocument(FORK_LIST_POLICY);
  const holders = parameters.holders.map((index) => `${chain.wallet(index).account.address}=100000`);
  const stdout = await supervisor.runNrp(
    'list-fork',
    [
      '--json',
      '--rpc',
      chain.rpcUrl,
      '--deployment',
      chain.deploymentPath,
      '--data-dir',
      dir,
      '--dev-account',
      String(parameters.holders[0]),
      'list',
      'fork',
      '--parent',
      parameters.parentList,
      '--version',
      String(parameters.parentVersion),
      '--remove',
      disputed,
      '--list-policy',
      listPolicy.toString(),
      ...holders.flatMap((holder) => ['--holder', holder]),
      '--register-server-from',
      parameters.server.dataDir,
      '--server-multiaddr',
      parameters.server.multiaddr,
      '--policy',
      policy,
    ],
    // The parent's payload comes from the proposers' IPFS node (NRP_PEERS: `--peer` takes several values).
    { timeoutMs: FORK_TIMEOUT_MS, env: { NRP_PEERS: host.addresses[0] } },
  );
  const result = JSON.parse(stdout) as {
    list: Address;
    governor: Address;
    count: number;
    removed: number;
    server?: { serverId: string | number };
  };
  if (!result.server) throw new Error('nrp list fork applied for no rating server');
  return {
    list: result.list,
    governor: result.governor,
    count: result.count,
    removed: result.removed,
    serverId: BigInt(result.server.serverId),
  };
}

/** The protesters: holders 3 and 4 of the DAO's token. */
export const PROTESTERS = DEMO_ACCOUNTS.holders.slice(3);
