import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { logger } from '@libp2p/logger';
import {
  buildModule,
  type DeploymentResult,
  DeploymentResultType,
  deploy,
  type EIP1193Provider,
  status,
  wipe,
} from '@nomicfoundation/ignition-core';
import type { CID } from 'multiformats/cid';
import {
  type Account,
  type Address,
  getAddress,
  getContractAddress,
  type Hex,
  isAddressEqual,
  type LocalAccount,
  toHex,
} from 'viem';
import { getBlockNumber, getTransactionCount } from 'viem/actions';
import { buildGovernance } from '../../ignition/modules/governance.js';
import ListForkModule from '../../ignition/modules/ListFork.js';
import {
  ArtifactNotFoundError,
  createSigningJsonRpcProvider,
  FileArtifactResolver,
  ignitionProgressListener,
  logSignedTransaction,
  RpcUnreachableError,
  readJournalFutures,
  recoverUnsentTransactions,
} from './ignition.js';
import type { ReadClient } from './transactions.js';

const log = logger('nrp:chain:fork');

/** Ignition's ids of the futures of the `ListFork` module whose addresses a fork needs. */
export const LIST_FORK_FUTURES = {
  token: 'ListFork#RatingToken',
  timelock: 'ListFork#TimelockController',
  governor: 'ListFork#RatingGovernor',
  list: 'ListFork#IllegalDataList',
} as const;

/**
 * The governance half of `ListFork`, under the same module id, so its futures are the very ones `ListFork` has.
 * A fork's first payload names the fork's own address, and the list's constructor takes that payload's CID, so
 * the address must be known before the list is deployed. Deploying the governance first leaves the list as the
 * only transaction still to send: its address is then the signer's next contract address.
 */
const ListForkGovernanceModule = buildModule('ListFork', (m) => {
  const { token, timelock, governor } = buildGovernance(m);
  return { token, timelock, governor };
});

/** The fork's own governance: who holds its tokens, and optionally the timings of `GOVERNANCE_DEFAULTS`. */
export interface ForkGovernanceParameters {
  holders: Address[];
  /** In the token's smallest unit, one per holder. */
  amounts: bigint[];
  tokenName?: string;
  tokenSymbol?: string;
  governorName?: string;
  votingDelay?: number;
  votingPeriod?: number;
  proposalThreshold?: bigint;
  quorumPercent?: number;
  voteExtension?: number;
  timelockDelay?: number;
}

/** The fork's first version, as its list's constructor records it. */
export interface ForkInitialVersion {
  root: Hex;
  count: number;
  removed: number;
  payloadCid: CID;
}

export interface DeployListForkParameters {
  /** The JSON-RPC URL Ignition sends the deployment's transactions to. */
  rpcUrl: string;
  /** Ignition's deployment folder (journal, addresses, artifacts). A rerun with the same folder resumes. */
  deploymentDir: string;
  /** The compiled contracts, Hardhat's `artifacts/` folder. */
  artifactsDir: string;
  parentList: Address;
  parentVersion: bigint;
  /** The fork list's policy document. */
  listPolicyCid: string;
  governance: ForkGovernanceParameters;
  /**
   * Builds and stores the fork's first version once the list's address is known (the payload header names its
   * list). Called on every run; it must give the same payload for the same address.
   */
  initialVersion: (list: Address) => Promise<ForkInitialVersion>;
  /** One line per step and per transaction. */
  onProgress?: (line: string) => void;
  /** Instead of a provider over `rpcUrl` that signs with the client's account. */
  provider?: EIP1193Provider;
}

export interface DeployListForkReturnType {
  list: Address;
  token: Address;
  timelock: Address;
  governor: Address;
  initialVersion: ForkInitialVersion;
  /** A block before the fork list was created: where to start reading its events. */
  fromBlock: bigint;
  /** Whether an earlier run of the same deployment had already sent some of it. */
  resumed: boolean;
}

/** The deployment did not complete; the message says which future failed and why. A rerun resumes it. */
export class ForkDeploymentError extends Error {
  override name = 'ForkDeploymentError';
}

/** The list landed at another address than its payload names, because the key sent a transaction meanwhile. */
export class ForkAddressMismatchError extends ForkDeploymentError {
  override name = 'ForkAddressMismatchError';
}

/** What a run records before it deploys the list, so a rerun that finds the list sent reuses the same payload. */
export interface ForkPlan {
  list: Address;
  payloadCid: string;
  fromBlock: string;
}

const PLAN_FILE = 'nrp-fork-plan.json';

const RESUME = 'Run the same command again to resume.';

/**
 * Deploys a protest fork through the `ListFork` Ignition module: its own token, timelock and Governor, and an
 * `IllegalDataList` whose first version is `initialVersion`, forked from `parentList` at `parentVersion`.
 * Ignition keeps a journal in `deploymentDir`, so a run stopped half-way (RPC down, key out of funds, Ctrl-C)
 * resumes where it stopped when run again, and never deploys a contract twice. Futures that failed in an
 * earlier run are wiped and tried again; a timed-out transaction is left for the user to look into.
 *
 * @example
 * const fork = await deployListFork(walletClient, {
 *   rpcUrl, deploymentDir, artifactsDir, parentList, parentVersion: 3n, listPolicyCid,
 *   governance: { holders: [me], amounts: [10n ** 24n] },
 *   initialVersion: async (list) => encodeAndPin(list),
 * });
 */
export async function deployListFork(
  client: ReadClient & { account: Account },
  parameters: DeployListForkParameters,
): Promise<DeployListForkReturnType> {
  const { deploymentDir, governance, onProgress = () => {} } = parameters;
  const account = client.account as LocalAccount;
  // Ignition sends through `eth_sendTransaction`; the provider signs it here, so the key must be local.
  if (account.type !== 'local' && !parameters.provider) {
    throw new TypeError('deployListFork signs with a local account (a private key or mnemonic), or a provider');
  }
  const chainId = client.chain?.id;
  if (chainId === undefined) throw new TypeError('deployListFork needs a client with a chain');
  const artifactResolver = new FileArtifactResolver(parameters.artifactsDir);
  const provider =
    parameters.provider ??
    createSigningJsonRpcProvider({
      url: parameters.rpcUrl,
      account,
      chainId,
      onSigned: (transaction) => logSignedTransaction(deploymentDir, transaction),
    });
  const resumed = existsSync(join(deploymentDir, 'journal.jsonl'));
  await mkdir(deploymentDir, { recursive: true });
  // What an earlier run left half-done: transactions whose sending failed, and futures that failed.
  await recoverUnsentTransactions({
    deploymentDir,
    provider,
    artifactResolver,
    onProgress: (line) => onProgress(`  ${line}`),
  }).catch((error: unknown) => {
    throw new ForkDeploymentError(ignitionMessage(error), { cause: error });
  });
  await retryFailedFutures(deploymentDir, artifactResolver, onProgress);

  const governanceParameters = {
    ...withoutUndefined({ ...governance }),
    holders: governance.holders,
    amounts: governance.amounts,
  };
  const run = async (module: typeof ListForkModule | typeof ListForkGovernanceModule, extra: object) => {
    const result = await deploy({
      provider,
      artifactResolver,
      deploymentDir,
      ignitionModule: module,
      deploymentParameters: { ListFork: { ...governanceParameters, ...extra } },
      accounts: [account.address],
      defaultSender: account.address,
      // A local chain mines at once: poll often. Elsewhere Ignition's defaults (1 s, 5 confirmations) suit.
      config: chainId === 31337 ? { blockPollingInterval: 100 } : {},
      executionEventListener: ignitionProgressListener((line) => onProgress(`  ${line}`)),
    }).catch((error: unknown) => {
      // Without compiled contracts, running again does not help; the message says what does.
      if (error instanceof ArtifactNotFoundError) throw new ForkDeploymentError(error.message, { cause: error });
      throw new ForkDeploymentError(`${ignitionMessage(error).replace(/\.?$/, '.')} ${RESUME}`, {
        cause: error,
      });
    });
    return succeeded(result, deploymentDir);
  };

  let plan = await readForkPlan(deploymentDir);
  const listFuture = (await readJournalFutures(deploymentDir)).get(LIST_FORK_FUTURES.list);
  if (listFuture && listFuture.nonces.length === 0) {
    // Started (simulated, perhaps) but never sent: start it afresh, with this run's address and payload.
    onProgress(`  ${LIST_FORK_FUTURES.list}: nothing was sent yet; preparing it again`);
    await wipe(deploymentDir, artifactResolver, LIST_FORK_FUTURES.list).catch((error: unknown) => {
      throw new ForkDeploymentError(ignitionMessage(error), { cause: error });
    });
  }
  let list: Address;
  let initialVersion: ForkInitialVersion;
  if (plan && listFuture && listFuture.nonces.length > 0) {
    // The list's transaction was sent with this address's payload: reuse it, whatever the nonce is now.
    list = plan.list;
    onProgress(`Resuming the deployment of the fork list ${list}`);
    initialVersion = await parameters.initialVersion(list);
    if (plan.payloadCid !== initialVersion.payloadCid.toString()) {
      throw new ForkDeploymentError(
        `The fork list was sent with payload ${plan.payloadCid}, but this run built ${initialVersion.payloadCid}: ` +
          'the parent version or the entries to remove changed. Use another data dir for a different fork.',
      );
    }
  } else {
    onProgress('Deploying the fork’s token, timelock and Governor (Ignition module ListFork)');
    await run(ListForkGovernanceModule, {});
    const nextAddress = async () => {
      const nonce = await getTransactionCount(client, { address: account.address, blockTag: 'pending' }).catch(
        unreachable,
      );
      return getContractAddress({ from: account.address, nonce: BigInt(nonce) });
    };
    list = await nextAddress();
    initialVersion = await parameters.initialVersion(list);
    // Building the payload takes a while on a big list: if the key was used meanwhile, build it again.
    for (let moved = await nextAddress(); !isAddressEqual(moved, list); moved = await nextAddress()) {
      onProgress(`${account.address} sent a transaction meanwhile: the fork list will be at ${moved}`);
      list = moved;
      initialVersion = await parameters.initialVersion(list);
    }
    log('the fork list will be at %s', list);
    const fromBlock = await getBlockNumber(client).catch(unreachable);
    plan = { list, payloadCid: initialVersion.payloadCid.toString(), fromBlock: String(fromBlock) };
    await writePlan(deploymentDir, plan);
  }

  onProgress(`Deploying the fork list ${list} (Ignition module ListFork)`);
  const contracts = await run(ListForkModule, {
    parentList: parameters.parentList,
    parentVersion: parameters.parentVersion,
    listPolicyCid: parameters.listPolicyCid,
    root: initialVersion.root,
    count: BigInt(initialVersion.count),
    removed: BigInt(initialVersion.removed),
    payloadCid: toHex(initialVersion.payloadCid.bytes),
  });
  const deployed = getAddress(contracts[LIST_FORK_FUTURES.list]);
  if (!isAddressEqual(deployed, list)) {
    throw new ForkAddressMismatchError(
      `The fork list was deployed at ${deployed}, not at ${list} as its payload says: ${account.address} sent ` +
        'another transaction during the deployment. This fork cannot be synced; deploy it again with a new data dir ' +
        'and do not use the key meanwhile.',
    );
  }
  return {
    list,
    token: getAddress(contracts[LIST_FORK_FUTURES.token]),
    timelock: getAddress(contracts[LIST_FORK_FUTURES.timelock]),
    governor: getAddress(contracts[LIST_FORK_FUTURES.governor]),
    initialVersion,
    fromBlock: BigInt(plan.fromBlock),
    resumed,
  };
}

function unreachable(error: Error & { shortMessage?: string }): never {
  throw new ForkDeploymentError(`Cannot read the chain: ${error.shortMessage ?? error.message} ${RESUME}`, {
    cause: error,
  });
}

/** The deployed addresses by future id, or a {@link ForkDeploymentError} that says what went wrong. */
function succeeded(result: DeploymentResult, deploymentDir: string): Record<string, Address> {
  switch (result.type) {
    case DeploymentResultType.SUCCESSFUL_DEPLOYMENT:
      return Object.fromEntries(
        Object.entries(result.contracts).map(([id, contract]) => [id, contract.address as Address]),
      );
    case DeploymentResultType.EXECUTION_ERROR: {
      const problems = [
        ...result.failed.map((f) => `${f.futureId} failed: ${f.error}`),
        ...result.timedOut.map(
          (f) => `${f.futureId}: its transaction timed out; check it on chain, then remove ${deploymentDir} or wait`,
        ),
        ...result.held.map((f) => `${f.futureId} is held: ${f.reason}`),
      ];
      const pending = result.started.length > 0 ? ` Still pending: ${result.started.join(', ')}.` : '';
      throw new ForkDeploymentError(`The fork deployment stopped: ${problems.join('; ')}.${pending} ${RESUME}`);
    }
    case DeploymentResultType.RECONCILIATION_ERROR:
      throw new ForkDeploymentError(
        `The deployment journal in ${deploymentDir} is for a different fork: ${flatten(result.errors)}. ` +
          'Use another data dir for a different fork.',
      );
    case DeploymentResultType.VALIDATION_ERROR:
    case DeploymentResultType.PREVIOUS_RUN_ERROR:
      throw new ForkDeploymentError(`Ignition refused the deployment: ${flatten(result.errors)}.`);
  }
}

function flatten(errors: Record<string, string[]>): string {
  return Object.entries(errors)
    .map(([id, messages]) => `${id}: ${messages.join(', ')}`)
    .join('; ');
}

/** Wipes futures that failed in an earlier run, so this run tries them again instead of refusing to start. */
async function retryFailedFutures(
  deploymentDir: string,
  artifactResolver: FileArtifactResolver,
  onProgress: (line: string) => void,
) {
  if (!existsSync(join(deploymentDir, 'journal.jsonl'))) return;
  const { failed } = await status(deploymentDir);
  // Dependents first: Ignition only wipes a future that nothing recorded depends on. Failed futures have none.
  for (const { futureId, error } of failed) {
    onProgress(`Retrying ${futureId}, which failed in an earlier run: ${error}`);
    await wipe(deploymentDir, artifactResolver, futureId);
  }
}

/** What an earlier run of the deployment in `deploymentDir` planned: the list's address and first payload. */
export async function readForkPlan(deploymentDir: string): Promise<ForkPlan | undefined> {
  try {
    return JSON.parse(await readFile(join(deploymentDir, PLAN_FILE), 'utf8')) as ForkPlan;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** Written whole or not at all: a crash mid-write must not leave a plan that names no payload. */
async function writePlan(deploymentDir: string, plan: ForkPlan) {
  const path = join(deploymentDir, PLAN_FILE);
  await writeFile(`${path}.tmp`, `${JSON.stringify(plan, null, 2)}\n`);
  await rename(`${path}.tmp`, path);
}

function withoutUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/**
 * Ignition's errors (HardhatError) start with a code such as HHE10403; the rest is the sentence. A failed send
 * names its cause only in `cause`, and asks for `ignition track-tx`, which a rerun of this action does itself.
 */
function ignitionMessage(error: unknown): string {
  const message = ((error as Error).message ?? String(error)).replace(/^HHE\d+:\s*/, '');
  if (error instanceof RpcUnreachableError) return message;
  const cause = (error as Error).cause as Error | undefined;
  const failedSend = /^An error occurred while trying to send a transaction for future (\S+?)\./.exec(message);
  if (failedSend) return `Sending the transaction of ${failedSend[1]} failed: ${cause?.message ?? 'unknown cause'}.`;
  return cause?.message && !message.includes(cause.message) ? `${message} (${cause.message})` : message;
}
