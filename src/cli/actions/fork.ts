import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { unixfs } from '@helia/unixfs';
import type { PeerId } from '@libp2p/interface';
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id';
import { multiaddr } from '@multiformats/multiaddr';
import type { CID } from 'multiformats/cid';
import { type Address, bytesToHex, getAddress, isAddress, isAddressEqual, parseUnits } from 'viem';
import { getCode } from 'viem/actions';
import { writeDeployment } from '../../chain/deployment.js';
import { deployListFork, type ForkGovernanceParameters, readForkPlan } from '../../chain/fork.js';
import { proposeOnce } from '../../chain/governance.js';
import { getListInfo, publishVersionCall } from '../../chain/lists.js';
import { getServerByPeerId, type RatingServer, registerServer } from '../../chain/registry.js';
import { createNrpHelia } from '../../ipfs/helia.js';
import { loadOrCreatePrivateKey } from '../../ipfs/keys.js';
import { type PinningHelia, pinRoot } from '../../ipfs/pins.js';
import { applyListChange } from '../../lists/change.js';
import type { ParsedEntry } from '../../lists/denylist.js';
import { entryIdToHex } from '../../lists/entry-id.js';
import { EntriesNotInParentError, type ForkEntrySet, forkEntrySet } from '../../lists/fork.js';
import { EntryMerkleTree, entryMerkleRoot } from '../../lists/merkle.js';
import { decodePayload, type EntryMetadata, encodePayload } from '../../lists/payload.js';
import { unpackIds } from '../../lists/set-ops.js';
import { DEFAULT_SUPPLY } from '../commands/fork.js';
import type { CliContext } from '../context.js';
import { CliError } from '../errors.js';
import { fail } from './governance.js';
import { fetchVersion, parseVersion, readEntries } from './list.js';

/** Hardhat's compiled contracts, which Ignition deploys. */
const ARTIFACTS_DIR = resolve(import.meta.dirname, '../../../artifacts');

/** Keys of `ListFork` that the command sets itself; a parameters file may set only the governance ones. */
const GOVERNANCE_KEYS = [
  'holders',
  'amounts',
  'tokenName',
  'tokenSymbol',
  'governorName',
  'votingDelay',
  'votingPeriod',
  'proposalThreshold',
  'quorumPercent',
  'voteExtension',
  'timelockDelay',
] as const;

interface ForkOptions {
  parent: string;
  version?: string;
  remove: string;
  add?: string;
  category?: string;
  reason?: string;
  listPolicy?: string;
  holder?: string[];
  parameters?: string;
  serverPeerId?: string;
  registerServerFrom?: string;
  serverMultiaddr?: string[];
  policy?: string;
  registry?: string;
  out?: string;
}

/** The server to apply for, resolved and checked before anything is deployed. */
interface ServerApplication {
  peerId: PeerId;
  multiaddrs: string[];
  policy: Uint8Array;
  /** The server's own data dir, whose store keeps the policy; else this user's. */
  serverDir?: string;
  registry: Address;
}

export async function fork(ctx: CliContext, options: ForkOptions) {
  const note = (line: string) => ctx.output.note(line);
  if (!isAddress(options.parent)) throw new CliError(`--parent is not an address: ${options.parent}`);
  const parentList = getAddress(options.parent);
  const remove = await readEntries(ctx, options.remove, 'remove');
  const add = await readEntries(ctx, options.add, 'add');
  const requestedVersion = parseVersion(options.version);
  const extraGovernance = await readGovernanceParameters(options.parameters);
  const server = await resolveServerApplication(ctx, options);

  const client = await ctx.publicClient();
  const chainId = client.chain.id;
  const wallet = await ctx.walletClient();
  const account = wallet.account;
  if (account.type !== 'local') {
    throw new CliError('nrp list fork signs with a local key (NRP_PRIVATE_KEY or --key-file).');
  }

  // 1. The parent: a list, and a version of it whose payload matches the chain.
  note(`1/5 Reading list ${parentList}`);
  if (!(await getCode(client, { address: parentList }))) {
    throw new CliError(`No contract at ${parentList} on chain ${chainId}: there is no list to fork there.`);
  }
  const info = await getListInfo(client, { list: parentList }).catch((error) => {
    throw new CliError(`${parentList} is not an illegal-data list: it does not answer as one.`, 1, { cause: error });
  });
  if (info.currentVersion === 0n) throw new CliError(`List ${parentList} has not published any version yet.`);
  const version = requestedVersion ?? info.currentVersion;
  const { onChain: parentVersion, payload: parent } = await fetchVersion(ctx, parentList, version, false);
  note(`    version ${version}: ${parentVersion.count} entries, payload ${parentVersion.payloadCid} verified`);
  parent.metadata = await parentMetadata(ctx, parent.cid);

  // 2. The fork's first set.
  let set: ForkEntrySet;
  try {
    set = forkEntrySet({
      parentIds: parent.ids,
      parentMetadata: parent.metadata,
      parentDoubleHashes: parent.header.doubleHashes,
      remove,
    });
  } catch (error) {
    if (error instanceof EntriesNotInParentError) {
      throw new CliError(`${options.remove}: ${error.message} of list ${parentList}.`, 1, { cause: error });
    }
    throw error;
  }
  const removed = set.removed.length / 32;
  const count = set.ids.length / 32;
  note(`2/5 The fork leaves out ${removed} of ${parentVersion.count} entries: ${count} stay`);
  const root = await ctx.output.progress('Computing the Merkle root', async (onProgress) =>
    count === 0 ? entryMerkleRoot(set.ids) : (await EntryMerkleTree.build(set.ids, { onProgress })).root,
  );

  // 3. Deploy, through Ignition, with the journal in the data dir.
  const governance = forkGovernance(options.holder, extraGovernance, account.address);
  const listPolicyCid = options.listPolicy ?? info.policyCid;
  const forkId = forkDeploymentId({
    chainId,
    parentList,
    version,
    removed: set.removed,
    governance,
    listPolicyCid,
    signer: account.address,
  });
  const forkDir = join(ctx.dataDir(), 'forks', forkId);
  const deploymentDir = join(forkDir, 'ignition');
  if (server) await checkPeerIdFree(ctx, server, (await readForkPlan(deploymentDir))?.list);
  const helia = await ctx.helia();
  /** Encodes and pins the fork's first payload; the same list address gives the same blocks and CID. */
  const storeFirstPayload = async (store: PinningHelia, list: Address) => {
    const encoded = await encodePayload(store.blockstore, {
      chainId,
      list,
      version: 1,
      ids: set.ids,
      added: 0,
      removed,
      parent: parent.cid,
      doubleHashes: set.doubleHashes,
      metadata: set.metadata,
      root,
    });
    // Block by block: a pin of the whole DAG would follow the header's link into the parent's payload.
    for (const block of [encoded.cid, ...encoded.header.chunks, ...encoded.header.metadata]) {
      await pinRoot(store, block, { depth: 0 });
    }
    return encoded;
  };
  note(`3/5 Deploying the fork (journal in ${deploymentDir})`);
  const deployed = await deployListFork(wallet, {
    rpcUrl: ctx.rpcUrl(),
    deploymentDir,
    artifactsDir: ARTIFACTS_DIR,
    parentList,
    parentVersion: version,
    listPolicyCid,
    governance,
    onProgress: (line) => note(`    ${line}`),
    initialVersion: async (list) => {
      const encoded = await storeFirstPayload(helia, list);
      note(`    payload ${encoded.cid} (${encoded.blocks} blocks) pinned in ${ctx.dataDir()}`);
      return { root: bytesToHex(root), count, removed, payloadCid: encoded.cid };
    },
  }).catch((error: Error) => {
    throw new CliError(error.message, 1, { cause: error });
  });
  note(`    fork list ${deployed.list}, Governor ${deployed.governor}`);

  const registry = server?.registry ?? (await ctx.contract('RatingServerRegistry', options.registry).catch(() => null));
  const record = registry
    ? await writeForkRecord(ctx, options.out ?? join(forkDir, 'deployment.json'), {
        chainId,
        forkId,
        deployed,
        registry,
      })
    : undefined;

  // 4. The rating server's application, which the registry's token holders then vote on.
  let application: Awaited<ReturnType<typeof applyForServer>> | undefined;
  if (server) {
    note('4/5 Applying for the fork’s rating server in the registry');
    application = await applyForServer(ctx, server, deployed.list, (store) => storeFirstPayload(store, deployed.list));
  } else note('4/5 No rating server to apply for (pass --server-peer-id or --register-server-from)');

  // 5. Additions go through the fork's own vote: a fork's first version can only leave entries out.
  let addition: Awaited<ReturnType<typeof proposeAdditions>> | undefined;
  if (add.length > 0) {
    note('5/5 Proposing the additions to the fork’s Governor');
    addition = await proposeAdditions(ctx, {
      add,
      options,
      list: deployed.list,
      governor: deployed.governor,
      first: { cid: deployed.initialVersion.payloadCid, ids: set.ids, set },
    });
  } else note('5/5 No additions to propose (pass --add to propose some to the fork’s Governor)');

  const next = nextSteps({ deployed, record, application, addition, server });
  ctx.output.result(
    {
      parent: { list: parentList, version, payloadCid: parentVersion.payloadCid },
      list: deployed.list,
      token: deployed.token,
      timelock: deployed.timelock,
      governor: deployed.governor,
      version: 1,
      count,
      removed,
      removedIds: unpackIds(set.removed).map(entryIdToHex),
      root: deployed.initialVersion.root,
      payloadCid: deployed.initialVersion.payloadCid,
      fromBlock: deployed.fromBlock,
      resumed: deployed.resumed,
      deploymentDir,
      deployment: record,
      server: application,
      addition,
      next,
    },
    () => {
      const out = ctx.output;
      out.line(`Fork ${deployed.list} of list ${parentList} at version ${version}`);
      out.line(`  version 1: ${count} entries, −${removed} disputed, payload ${deployed.initialVersion.payloadCid}`);
      out.line(`  token ${deployed.token}, timelock ${deployed.timelock}, Governor ${deployed.governor}`);
      if (record) out.line(`  deployment record: ${record}`);
      if (application) {
        out.line(
          `  rating server ${application.serverId} (${application.peerId}): ${application.status}` +
            `${application.alreadyApplied ? ', applied in an earlier run' : ''}`,
        );
      }
      if (addition) out.line(`  proposal ${addition.proposalId} on the fork’s Governor adds ${addition.added} entries`);
      out.line('');
      out.line('Next:');
      for (const step of next) out.line(`  ${step}`);
    },
  );
}

/**
 * The parent's metadata (categories, reasons, double hashes for export), which the fork keeps for the entries
 * that stay. `list sync` does not keep metadata blocks, so without a peer that has them the fork goes without.
 */
async function parentMetadata(ctx: CliContext, cid: CID): Promise<Map<string, EntryMetadata> | undefined> {
  try {
    const source = await ctx.blockSource();
    return (await decodePayload(source, cid, { metadata: true, signal: AbortSignal.timeout(30_000) })).metadata;
  } catch (error) {
    ctx.output.note(
      `    the parent's metadata is not available (${(error as Error).message}); the fork's payload carries none`,
    );
    return undefined;
  }
}

// ─── Inputs ─────────────────────────────────────────────────────────────────────────────────────────────────

async function readGovernanceParameters(path: string | undefined): Promise<Partial<ForkGovernanceParameters>> {
  if (!path) return {};
  let value: unknown;
  try {
    value = JSON.parse(await readFile(path, 'utf8'));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new CliError(`Cannot read ${path}: ${code ?? (error as Error).message}`, 1, { cause: error });
  }
  const object = (value as { ListFork?: unknown })?.ListFork ?? value;
  if (typeof object !== 'object' || object === null || Array.isArray(object)) {
    throw new CliError(`${path} must hold a JSON object (or one under "ListFork").`);
  }
  const unknown = Object.keys(object).filter((key) => !(GOVERNANCE_KEYS as readonly string[]).includes(key));
  if (unknown.length > 0) {
    throw new CliError(
      `${path}: ${unknown.join(', ')} cannot be set here; only ${GOVERNANCE_KEYS.join(', ')} (the fork's own ` +
        'parent, version, root, count and payload come from the command).',
    );
  }
  // Ignition's parameter files write big numbers as "123n".
  const revived = Object.fromEntries(
    Object.entries(object).map(([key, v]) => [key, reviveBigints(v)]),
  ) as Partial<ForkGovernanceParameters>;
  return revived;
}

function reviveBigints(value: unknown): unknown {
  if (typeof value === 'string' && /^\d+n$/.test(value)) return BigInt(value.slice(0, -1));
  if (Array.isArray(value)) return value.map(reviveBigints);
  return value;
}

/** Holders from --holder (whole tokens), else from the parameters file, else all to the signer. */
function forkGovernance(
  holderFlags: string[] | undefined,
  extra: Partial<ForkGovernanceParameters>,
  signer: Address,
): ForkGovernanceParameters {
  let holders: Address[];
  let amounts: bigint[];
  if (holderFlags && holderFlags.length > 0) {
    holders = [];
    amounts = [];
    for (const flag of holderFlags) {
      const match = /^(0x[0-9a-fA-F]{40})=(\d+(\.\d+)?)$/.exec(flag.trim());
      if (!match) throw new CliError(`--holder must be <address>=<whole tokens>, e.g. 0xf39F…2266=1000, not ${flag}`);
      holders.push(getAddress(match[1]));
      amounts.push(parseUnits(match[2], 18));
    }
  } else if (extra.holders && extra.amounts) {
    holders = extra.holders.map((holder) => getAddress(holder));
    amounts = extra.amounts.map((amount) => BigInt(amount));
  } else {
    holders = [signer];
    amounts = [parseUnits(DEFAULT_SUPPLY, 18)];
  }
  if (holders.length !== amounts.length) throw new CliError('The fork needs as many token amounts as holders.');
  if (amounts.reduce((a, b) => a + b, 0n) === 0n) throw new CliError('The fork’s tokens must not all be zero.');
  return { ...extra, holders, amounts };
}

/**
 * The fork's deployment id: the same inputs give the same id, so a rerun finds the journal of the run it
 * resumes, and a different fork never reuses another's.
 */
function forkDeploymentId(input: {
  chainId: number;
  parentList: Address;
  version: bigint;
  removed: Uint8Array;
  governance: ForkGovernanceParameters;
  listPolicyCid: string;
  signer: Address;
}): string {
  const canonical = JSON.stringify(
    { ...input, removed: bytesToHex(input.removed), governance: sortKeys(input.governance) },
    (_key, value) => (typeof value === 'bigint' ? value.toString() : value),
  );
  const digest = createHash('sha256').update(canonical).digest('hex').slice(0, 12);
  return `${input.chainId}-${input.parentList.toLowerCase()}-v${input.version}-${digest}`;
}

function sortKeys(value: object): object {
  return Object.fromEntries(Object.entries(value).sort(([a], [b]) => a.localeCompare(b)));
}

// ─── The rating server ──────────────────────────────────────────────────────────────────────────────────────

async function resolveServerApplication(ctx: CliContext, options: ForkOptions): Promise<ServerApplication | undefined> {
  const wanted = options.serverPeerId ?? options.registerServerFrom;
  if (!wanted) {
    if (options.serverMultiaddr || options.policy) {
      throw new CliError('--server-multiaddr and --policy go with --server-peer-id or --register-server-from.');
    }
    return undefined;
  }
  if (options.serverPeerId && options.registerServerFrom) {
    throw new CliError('Pass --server-peer-id or --register-server-from, not both.');
  }
  if (!options.serverMultiaddr?.length) throw new CliError('The fork’s rating server needs --server-multiaddr.');
  for (const address of options.serverMultiaddr) {
    try {
      multiaddr(address);
    } catch {
      throw new CliError(`--server-multiaddr: not a multiaddr: ${address}`);
    }
  }
  if (!options.policy) throw new CliError('The fork’s rating server needs --policy <file>, its rating policy.');
  let policy: Uint8Array;
  try {
    policy = new Uint8Array(await readFile(options.policy));
  } catch (error) {
    throw new CliError(`Cannot read ${options.policy}: ${(error as NodeJS.ErrnoException).code}`, 1, {
      cause: error,
    });
  }
  let peerId: PeerId;
  if (options.serverPeerId) {
    try {
      peerId = peerIdFromString(options.serverPeerId);
    } catch (error) {
      throw new CliError(`--server-peer-id is not a peer id: ${options.serverPeerId}`, 1, { cause: error });
    }
  } else {
    const dir = options.registerServerFrom as string;
    try {
      peerId = peerIdFromPrivateKey(await loadOrCreatePrivateKey(join(dir, 'ipfs', 'peer.key')));
    } catch (error) {
      throw new CliError(`Cannot use the server key in ${dir}: ${(error as Error).message}`, 1, { cause: error });
    }
  }
  const registry = await ctx.contract('RatingServerRegistry', options.registry);
  return {
    peerId,
    multiaddrs: options.serverMultiaddr,
    policy,
    serverDir: options.registerServerFrom,
    registry,
  };
}

/** Refuses, before anything is deployed, a peer id that another list's server already holds. */
async function checkPeerIdFree(ctx: CliContext, server: ServerApplication, plannedList: Address | undefined) {
  const client = await ctx.publicClient();
  const existing = await getServerByPeerId(client, {
    registry: server.registry,
    peerId: server.peerId.toMultihash().bytes,
  }).catch(fail);
  if (existing && !(plannedList && isAddressEqual(existing.list, plannedList))) {
    throw new CliError(
      `${server.peerId} is already rating server ${existing.serverId} (${existing.status}) for list ` +
        `${existing.list}. A peer id serves one list: give the fork's server its own key (a new server data dir).`,
    );
  }
}

async function applyForServer(
  ctx: CliContext,
  server: ServerApplication,
  list: Address,
  storeFirstPayload: (store: PinningHelia) => Promise<unknown>,
) {
  const client = await ctx.publicClient();
  const peerIdBytes = server.peerId.toMultihash().bytes;
  const existing: RatingServer | null = await getServerByPeerId(client, {
    registry: server.registry,
    peerId: peerIdBytes,
  }).catch(fail);
  const base = { peerId: server.peerId.toString(), registry: server.registry, list };
  if (existing && isAddressEqual(existing.list, list)) {
    ctx.output.note(`    already applied as rating server ${existing.serverId} (${existing.status})`);
    return {
      ...base,
      serverId: existing.serverId,
      status: existing.status,
      policyCid: existing.policyCid,
      alreadyApplied: true,
    };
  }
  const policyCid = (await stockServerStore(ctx, server, storeFirstPayload)).toString();
  const wallet = await ctx.walletClient();
  const result = await registerServer(wallet, {
    registry: server.registry,
    peerId: peerIdBytes,
    multiaddrs: server.multiaddrs,
    policyCid,
    list,
  }).catch(fail);
  ctx.output.note(`    applied as rating server ${result.serverId} (${result.hash}); a vote must activate it`);
  return {
    ...base,
    serverId: result.serverId,
    status: 'applied' as const,
    policyCid,
    transaction: result.hash,
    alreadyApplied: false,
  };
}

/**
 * Pins the policy where it will be served: in the server's own store, with the fork's first payload, so the
 * server has what it enforces from its first start; or, for a server given by peer id, in this user's store.
 */
async function stockServerStore(
  ctx: CliContext,
  server: ServerApplication,
  storeFirstPayload: (store: PinningHelia) => Promise<unknown>,
): Promise<CID> {
  const addPolicy = async (helia: PinningHelia & Parameters<typeof unixfs>[0]) => {
    const cid = await unixfs(helia).addBytes(server.policy);
    await pinRoot(helia, cid);
    return cid;
  };
  if (!server.serverDir) return addPolicy(await ctx.helia());
  const privateKey = await loadOrCreatePrivateKey(join(server.serverDir, 'ipfs', 'peer.key'));
  const helia = await createNrpHelia({ dataDir: join(server.serverDir, 'ipfs'), privateKey, listen: [] });
  try {
    await storeFirstPayload(helia);
    return await addPolicy(helia);
  } finally {
    await helia.stop();
  }
}

// ─── Additions, by the fork's own vote ─────────────────────────────────────────────────────────────────────

async function proposeAdditions(
  ctx: CliContext,
  input: {
    add: ParsedEntry[];
    options: ForkOptions;
    list: Address;
    governor: Address;
    first: { cid: CID; ids: Uint8Array; set: ForkEntrySet };
  },
) {
  const { add, options, list, governor, first } = input;
  let change: ReturnType<typeof applyListChange>;
  try {
    change = applyListChange({
      current: first.ids,
      currentMetadata: first.set.metadata,
      currentDoubleHashes: first.set.doubleHashes,
      add,
      remove: [],
      category: options.category,
      reason: options.reason,
    });
  } catch (error) {
    throw new CliError(`${options.add}: ${(error as Error).message}`, 1, { cause: error });
  }
  const client = await ctx.publicClient();
  const helia = await ctx.helia();
  const count = change.ids.length / 32;
  const added = change.added.length / 32;
  const root = await EntryMerkleTree.build(change.ids).then((tree) => tree.root);
  const encoded = await encodePayload(helia.blockstore, {
    chainId: client.chain.id,
    list,
    version: 2,
    ids: change.ids,
    added,
    removed: 0,
    parent: first.cid,
    doubleHashes: change.doubleHashes,
    metadata: change.metadata,
    root,
  });
  await pinRoot(helia, encoded.cid);
  const call = publishVersionCall(list, {
    parentVersion: 1n,
    root: bytesToHex(root),
    count,
    added,
    removed: 0,
    payloadCid: encoded.cid,
  });
  const description = [
    `List ${list}: version 2, +${added} entries (${count} in all)`,
    '',
    options.reason ?? '',
    options.category ? `Category: ${options.category}` : '',
    `Payload: ${encoded.cid}`,
    'Inspect before voting: nrp proposal inspect <id>',
  ]
    .filter((line, i) => i < 2 || line !== '')
    .join('\n');
  // The id is a hash of the calls and the description: a rerun finds the proposal an earlier run made.
  const wallet = await ctx.walletClient();
  const proposed = await proposeOnce(wallet, { governor, calls: [call], description }).catch(fail);
  ctx.output.note(
    proposed.transaction
      ? `    proposal ${proposed.proposalId} (${proposed.transaction.hash})`
      : `    proposal ${proposed.proposalId} exists already`,
  );
  return {
    proposalId: proposed.proposalId,
    added,
    count,
    payloadCid: encoded.cid,
    alreadyProposed: !proposed.submitted,
  };
}

// ─── Results ────────────────────────────────────────────────────────────────────────────────────────────────

/**
 * The fork's deployment record, in the format of `deployments/<network>.json`, so `--deployment <file>` points
 * every command at the fork: its list, its Governor for votes, and the registry its server applied to.
 */
async function writeForkRecord(
  ctx: CliContext,
  path: string,
  input: {
    chainId: number;
    forkId: string;
    deployed: Awaited<ReturnType<typeof deployListFork>>;
    registry: Address;
  },
): Promise<string> {
  const { deployed } = input;
  const parent = await ctx.deployment();
  await writeDeployment(path, {
    network: parent?.network ?? `chain-${input.chainId}`,
    chainId: input.chainId,
    deploymentId: `fork-${input.forkId}`,
    fromBlock: Number(deployed.fromBlock),
    deployedAt: new Date().toISOString(),
    contracts: {
      RatingToken: deployed.token,
      TimelockController: deployed.timelock,
      RatingGovernor: deployed.governor,
      RatingServerRegistry: input.registry,
      IllegalDataList: deployed.list,
    },
  });
  return resolve(path);
}

function nextSteps(input: {
  deployed: Awaited<ReturnType<typeof deployListFork>>;
  record?: string;
  application?: Awaited<ReturnType<typeof applyForServer>>;
  addition?: Awaited<ReturnType<typeof proposeAdditions>>;
  server?: ServerApplication;
}): string[] {
  const { deployed, record, application, addition } = input;
  const steps: string[] = [];
  if (application && application.status !== 'active') {
    steps.push(
      `Activate the server by a vote of the registry's token holders: nrp server vote-on ${application.serverId} activate --reason "…"`,
    );
  } else if (!application) {
    steps.push(
      `Apply for a rating server: nrp server register --list ${deployed.list} --server-dir <dir> --multiaddr <addr> --policy <file>`,
    );
  }
  steps.push(`Run the server on the fork: chain.list: ${deployed.list} in its configuration, then nrp server start`);
  if (addition) {
    steps.push(
      `Vote on the additions in the fork: nrp --deployment ${record ?? '<fork record>'} vote ${addition.proposalId} for`,
    );
  }
  steps.push(`Inspect the fork: nrp list show --list ${deployed.list} --entries`);
  return steps;
}
