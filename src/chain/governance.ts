import {
  type Address,
  encodeAbiParameters,
  type Hash,
  type Hex,
  hexToBigInt,
  keccak256,
  parseEventLogs,
  stringToBytes,
  type TransactionReceipt,
} from 'viem';
import { getBlockNumber, readContract, simulateContract } from 'viem/actions';
import { ratingGovernorAbi, ratingTokenAbi } from './abis.js';
import {
  decodeEnum,
  encodeEnum,
  PROPOSAL_STATES,
  type ProposalState,
  VOTE_SUPPORTS,
  type VoteSupport,
} from './enums.js';
import { MissingEventError, ProposalNotFoundError } from './errors.js';
import {
  type BlockRangeParameters,
  findLatestEventLog,
  getEventLogsInPages,
  type LogPosition,
  logPosition,
} from './logs.js';
import {
  type ReadClient,
  type SigningClient,
  sendSimulatedRequest,
  type TransactionOptions,
  type TransactionResult,
} from './transactions.js';

export { PROPOSAL_STATES, type ProposalState, VOTE_SUPPORTS, type VoteSupport } from './enums.js';

/** One call a proposal makes through the timelock when it is executed. */
export interface ProposalCall {
  target: Address;
  data: Hex;
  /** Wei sent with the call, paid by whoever executes the proposal. Default 0. */
  value?: bigint;
}

/** What identifies a proposal to the Governor's `queue` and `execute`, as its ProposalCreated event records it. */
export interface ProposalActions {
  targets: Address[];
  values: bigint[];
  calldatas: Hex[];
  descriptionHash: Hash;
}

/** keccak256 of a proposal's description, as the Governor hashes it. */
export function hashDescription(description: string): Hash {
  return keccak256(stringToBytes(description));
}

/**
 * A proposal's id, computed as the Governor does (`hashProposal`): the same calls and description always give
 * the same id, so one cannot be proposed twice.
 *
 * @example
 * const proposalId = hashProposal({ targets, values, calldatas, descriptionHash: hashDescription(description) });
 */
export function hashProposal({ targets, values, calldatas, descriptionHash }: ProposalActions): bigint {
  const encoded = encodeAbiParameters(
    [{ type: 'address[]' }, { type: 'uint256[]' }, { type: 'bytes[]' }, { type: 'bytes32' }],
    [targets, values, calldatas, descriptionHash],
  );
  return hexToBigInt(keccak256(encoded));
}

/** Targets, values and calldatas of `calls`, in the form the Governor takes them. */
export function callsToActions(calls: readonly ProposalCall[], description: string): ProposalActions {
  return {
    targets: calls.map((call) => call.target),
    values: calls.map((call) => call.value ?? 0n),
    calldatas: calls.map((call) => call.data),
    descriptionHash: hashDescription(description),
  };
}

// ─── Proposing ───────────────────────────────────────────────────────────────────────────────────────────────

export interface ProposeParameters {
  governor: Address;
  /** The calls the timelock makes if the proposal passes, in order. At least one. */
  calls: readonly ProposalCall[];
  /** What voters read; also part of the proposal id. */
  description: string;
}

export interface ProposeReturnType extends TransactionResult {
  proposalId: bigint;
}

/**
 * Submits a proposal. Voting opens after the Governor's voting delay.
 *
 * @example
 * const { proposalId } = await propose(walletClient, {
 *   governor,
 *   calls: [publishVersionCall(list, nextVersion)],
 *   description: 'List version 2: add 5 entries reported in March, remove 3 found lawful',
 * });
 */
export async function propose(
  client: SigningClient,
  { governor, calls, description }: ProposeParameters,
  options: TransactionOptions = {},
): Promise<ProposeReturnType> {
  options.signal?.throwIfAborted();
  const { targets, values, calldatas } = callsToActions(calls, description);
  const { request } = await simulateContract(client, {
    account: client.account,
    address: governor,
    abi: ratingGovernorAbi,
    functionName: 'propose',
    args: [targets, values, calldatas, description],
  });
  const result = await sendSimulatedRequest(client, request, options);
  const created = governorEvent(result.receipt, governor, 'ProposalCreated');
  return { ...result, proposalId: created.args.proposalId };
}

export interface ProposeOnceReturnType {
  proposalId: bigint;
  /** False if the Governor had this exact proposal already, and nothing was sent. */
  submitted: boolean;
  /** The transaction that submitted it, when this call did. */
  transaction?: TransactionResult;
}

/**
 * Submits a proposal unless the Governor has it already. A proposal's id is a hash of its calls and
 * description, so a rerun of the same change (after a crash between submitting a proposal and recording that
 * it was submitted) finds the earlier run's proposal instead of failing on the Governor's revert.
 *
 * @example
 * const { proposalId, submitted } = await proposeOnce(walletClient, { governor, calls, description });
 * if (!submitted) console.log(`proposal ${proposalId} was submitted before`);
 */
export async function proposeOnce(
  client: SigningClient,
  parameters: ProposeParameters,
  options: TransactionOptions = {},
): Promise<ProposeOnceReturnType> {
  const proposalId = hashProposal(callsToActions(parameters.calls, parameters.description));
  if (await proposalExists(client, { governor: parameters.governor, proposalId })) {
    return { proposalId, submitted: false };
  }
  const { proposalId: created, ...transaction } = await propose(client, parameters, options);
  return { proposalId: created, submitted: true, transaction };
}

export interface ProposalExistsParameters {
  governor: Address;
  proposalId: bigint;
}

/**
 * Whether the Governor has a proposal with this id, in any state. One call; no event scan.
 *
 * @example
 * await proposalExists(publicClient, { governor, proposalId: hashProposal(callsToActions(calls, description)) });
 */
export async function proposalExists(
  client: ReadClient,
  { governor, proposalId }: ProposalExistsParameters,
): Promise<boolean> {
  const snapshot = await readContract(client, {
    address: governor,
    abi: ratingGovernorAbi,
    functionName: 'proposalSnapshot',
    args: [proposalId],
  });
  return snapshot !== 0n;
}

// ─── Reading proposals ───────────────────────────────────────────────────────────────────────────────────────

/** A proposal: what its ProposalCreated event says, and where it stands now. */
export interface Proposal extends ProposalActions {
  governor: Address;
  proposalId: bigint;
  proposer: Address;
  description: string;
  /** The snapshot: voting power is counted at this timepoint (seconds, since the token's clock is timestamps). */
  voteStart: bigint;
  /** The end of voting when proposed; see `deadline` for the current one. */
  voteEnd: bigint;
  /** Where the ProposalCreated event is. */
  created: LogPosition;
  state: ProposalState;
  votes: { for: bigint; against: bigint; abstain: bigint };
  /** Votes (for plus abstain) needed at the snapshot; null until the snapshot is in the past. */
  quorum: bigint | null;
  /** The end of voting now: later than `voteEnd` if a late quorum extended it. */
  deadline: bigint;
  /** When a queued proposal can be executed; null if it was never queued. */
  eta: bigint | null;
}

export interface GetProposalParameters extends Omit<BlockRangeParameters, 'fromBlock' | 'toBlock'> {
  governor: Address;
  proposalId: bigint;
  /** First block to search for the ProposalCreated event, e.g. the deployment's `fromBlock`. Default 0. */
  fromBlock?: bigint;
}

export type GetProposalReturnType = Proposal;

/**
 * A proposal, found by its ProposalCreated event (searched from the newest block back, so recent proposals are
 * found fast), with its live state, votes, quorum, deadline and eta. Throws {@link ProposalNotFoundError}.
 *
 * @example
 * const proposal = await getProposal(publicClient, { governor, proposalId, fromBlock: BigInt(deployment.fromBlock) });
 * console.log(proposal.state, proposal.votes.for, proposal.quorum);
 */
export async function getProposal(
  client: ReadClient,
  { governor, proposalId, fromBlock = 0n, maxBlockRange, signal }: GetProposalParameters,
): Promise<GetProposalReturnType> {
  const created = await findProposalCreated(client, { governor, proposalId, fromBlock, maxBlockRange, signal });
  signal?.throwIfAborted();
  const blockNumber = await getBlockNumber(client, { cacheTime: 0 });
  return withLiveState(client, governor, created, blockNumber);
}

export interface ListProposalsParameters extends BlockRangeParameters {
  governor: Address;
}

export type ListProposalsReturnType = Proposal[];

/**
 * Every proposal created in a block range, oldest first, with its live state.
 *
 * @example
 * const open = (await listProposals(publicClient, { governor, fromBlock })).filter((p) => p.state === 'active');
 */
export async function listProposals(
  client: ReadClient,
  parameters: ListProposalsParameters,
): Promise<ListProposalsReturnType> {
  const created = await getCreatedProposals(client, parameters);
  parameters.signal?.throwIfAborted();
  // One block for every live read, so the proposals are a consistent picture.
  const blockNumber = await getBlockNumber(client, { cacheTime: 0 });
  return Promise.all(created.map((proposal) => withLiveState(client, parameters.governor, proposal, blockNumber)));
}

/** A proposal as its ProposalCreated event records it, without its live state. */
export type CreatedProposal = Omit<Proposal, 'state' | 'votes' | 'quorum' | 'deadline' | 'eta'>;

export type GetCreatedProposalsParameters = ListProposalsParameters;

export type GetCreatedProposalsReturnType = CreatedProposal[];

/**
 * The ProposalCreated events of a block range, oldest first: what each proposal would do, without a read of
 * where it stands (see {@link listProposals} for that).
 *
 * @example
 * for (const proposal of await getCreatedProposals(publicClient, { governor, fromBlock, toBlock })) {
 *   if (proposal.targets.includes(list)) console.log(proposal.proposalId, proposal.description);
 * }
 */
export async function getCreatedProposals(
  client: ReadClient,
  { governor, ...range }: GetCreatedProposalsParameters,
): Promise<GetCreatedProposalsReturnType> {
  const logs = await getEventLogsInPages(client, { ...range, address: governor, events: proposalCreatedEvents });
  return logs.map((log) => proposalCreatedFromLog(governor, log));
}

export interface GetProposalStateParameters {
  governor: Address;
  proposalId: bigint;
}

export type GetProposalStateReturnType = ProposalState;

/**
 * Where a proposal stands now: one call. The Governor reverts for an unknown id.
 *
 * @example
 * if ((await getProposalState(publicClient, { governor, proposalId })) === 'executed') console.log('in force');
 */
export async function getProposalState(
  client: ReadClient,
  { governor, proposalId }: GetProposalStateParameters,
): Promise<GetProposalStateReturnType> {
  const state = await readContract(client, {
    address: governor,
    abi: ratingGovernorAbi,
    functionName: 'state',
    args: [proposalId],
  });
  return decodeEnum(PROPOSAL_STATES, state, 'proposal state');
}

const proposalCreatedEvents = ratingGovernorAbi.filter(
  (item): item is Extract<(typeof ratingGovernorAbi)[number], { type: 'event'; name: 'ProposalCreated' }> =>
    item.type === 'event' && item.name === 'ProposalCreated',
);

type ProposalCreatedLog = Awaited<ReturnType<typeof getEventLogsInPages<typeof proposalCreatedEvents>>>[number];

function proposalCreatedFromLog(governor: Address, { args, ...log }: ProposalCreatedLog): CreatedProposal {
  return {
    governor,
    proposalId: args.proposalId,
    proposer: args.proposer,
    targets: [...args.targets],
    values: [...args.values],
    calldatas: [...args.calldatas],
    description: args.description,
    descriptionHash: hashDescription(args.description),
    voteStart: args.voteStart,
    voteEnd: args.voteEnd,
    created: logPosition(log),
  };
}

async function findProposalCreated(
  client: ReadClient,
  { governor, proposalId, fromBlock, maxBlockRange, signal }: GetProposalParameters & { fromBlock: bigint },
): Promise<CreatedProposal> {
  // The Governor answers for its own proposals at once; a scan for an unknown id would read every block.
  if (!(await proposalExists(client, { governor, proposalId }))) throw new ProposalNotFoundError(governor, proposalId);
  const log = await findLatestEventLog(
    client,
    { address: governor, events: proposalCreatedEvents, fromBlock, maxBlockRange, signal },
    (candidate) => candidate.args.proposalId === proposalId,
  );
  if (!log) {
    throw new ProposalNotFoundError(
      governor,
      proposalId,
      `its ProposalCreated event is not in blocks ${fromBlock} to latest; search from an earlier block`,
    );
  }
  return proposalCreatedFromLog(governor, log);
}

async function withLiveState(
  client: ReadClient,
  governor: Address,
  created: CreatedProposal,
  blockNumber: bigint,
): Promise<Proposal> {
  const read = { address: governor, abi: ratingGovernorAbi, blockNumber } as const;
  const args = [created.proposalId] as const;
  const [state, [against, forVotes, abstain], deadline, eta, clock] = await Promise.all([
    readContract(client, { ...read, functionName: 'state', args }),
    readContract(client, { ...read, functionName: 'proposalVotes', args }),
    readContract(client, { ...read, functionName: 'proposalDeadline', args }),
    readContract(client, { ...read, functionName: 'proposalEta', args }),
    readContract(client, { ...read, functionName: 'clock' }),
  ]);
  // The token reverts when asked for the supply at a timepoint that is not yet past.
  const quorum =
    created.voteStart < clock
      ? await readContract(client, { ...read, functionName: 'quorum', args: [created.voteStart] })
      : null;
  return {
    ...created,
    state: decodeEnum(PROPOSAL_STATES, state, 'proposal state'),
    votes: { for: forVotes, against, abstain },
    quorum,
    deadline,
    eta: eta === 0n ? null : eta,
  };
}

export interface HasVotedParameters {
  governor: Address;
  proposalId: bigint;
  account: Address;
}

/**
 * Whether `account` has voted on a proposal.
 *
 * @example
 * if (await hasVoted(publicClient, { governor, proposalId, account: walletClient.account.address })) return;
 */
export async function hasVoted(
  client: ReadClient,
  { governor, proposalId, account }: HasVotedParameters,
): Promise<boolean> {
  return readContract(client, {
    address: governor,
    abi: ratingGovernorAbi,
    functionName: 'hasVoted',
    args: [proposalId, account],
  });
}

export interface GetGovernorSettingsParameters {
  governor: Address;
}

export interface GetGovernorSettingsReturnType {
  name: string;
  token: Address;
  timelock: Address;
  /** Seconds from proposal to snapshot. */
  votingDelay: number;
  /** Seconds that voting stays open. */
  votingPeriod: number;
  /** Voting power needed to propose, in the token's smallest unit. */
  proposalThreshold: bigint;
  /** Quorum as a percentage of the supply at the snapshot. */
  quorumPercent: bigint;
  /** Seconds that voting stays open at least after quorum is reached. */
  voteExtension: number;
}

/**
 * The Governor's parameters, all of which can change by vote.
 *
 * @example
 * const { votingPeriod } = await getGovernorSettings(publicClient, { governor });
 */
export async function getGovernorSettings(
  client: ReadClient,
  { governor }: GetGovernorSettingsParameters,
): Promise<GetGovernorSettingsReturnType> {
  const read = { address: governor, abi: ratingGovernorAbi } as const;
  const [name, token, timelock, votingDelay, votingPeriod, proposalThreshold, quorumPercent, voteExtension] =
    await Promise.all([
      readContract(client, { ...read, functionName: 'name' }),
      readContract(client, { ...read, functionName: 'token' }),
      readContract(client, { ...read, functionName: 'timelock' }),
      readContract(client, { ...read, functionName: 'votingDelay' }),
      readContract(client, { ...read, functionName: 'votingPeriod' }),
      readContract(client, { ...read, functionName: 'proposalThreshold' }),
      readContract(client, { ...read, functionName: 'quorumNumerator' }),
      readContract(client, { ...read, functionName: 'lateQuorumVoteExtension' }),
    ]);
  return {
    name,
    token,
    timelock,
    votingDelay: Number(votingDelay),
    votingPeriod: Number(votingPeriod),
    proposalThreshold,
    quorumPercent,
    voteExtension,
  };
}

// ─── Voting, queueing, executing ─────────────────────────────────────────────────────────────────────────────

export interface CastVoteParameters {
  governor: Address;
  proposalId: bigint;
  support: VoteSupport;
  /** Shown with the vote on chain; uses `castVoteWithReason` when given. */
  reason?: string;
}

export interface CastVoteReturnType extends TransactionResult {
  /** The voting power the vote counted with. */
  weight: bigint;
}

/**
 * Votes on an active proposal with the account's voting power at the proposal's snapshot.
 *
 * @example
 * await castVote(walletClient, { governor, proposalId, support: 'for', reason: 'Entries match the policy' });
 */
export async function castVote(
  client: SigningClient,
  { governor, proposalId, support, reason }: CastVoteParameters,
  options: TransactionOptions = {},
): Promise<CastVoteReturnType> {
  options.signal?.throwIfAborted();
  const call = { account: client.account, address: governor, abi: ratingGovernorAbi } as const;
  const supportValue = encodeEnum(VOTE_SUPPORTS, support);
  const { request } =
    reason === undefined
      ? await simulateContract(client, { ...call, functionName: 'castVote', args: [proposalId, supportValue] })
      : await simulateContract(client, {
          ...call,
          functionName: 'castVoteWithReason',
          args: [proposalId, supportValue, reason],
        });
  const result = await sendSimulatedRequest(client, request, options);
  return { ...result, weight: governorEvent(result.receipt, governor, 'VoteCast').args.weight };
}

export interface ProposalLifecycleParameters {
  governor: Address;
  proposalId: bigint;
  /** The proposal's calls and description hash. Default: read from its ProposalCreated event. */
  actions?: ProposalActions;
  /** Where to start searching for the ProposalCreated event when `actions` is not given. Default 0. */
  fromBlock?: bigint;
  maxBlockRange?: bigint;
}

export interface QueueProposalReturnType extends TransactionResult {
  /** When the proposal can be executed, in seconds. */
  eta: bigint;
}

/**
 * Queues a succeeded proposal in the timelock; it can be executed once the timelock delay has passed.
 *
 * @example
 * const { eta } = await queueProposal(walletClient, { governor, proposalId, fromBlock });
 */
export async function queueProposal(
  client: SigningClient,
  parameters: ProposalLifecycleParameters,
  options: TransactionOptions = {},
): Promise<QueueProposalReturnType> {
  const result = await sendLifecycleCall(client, 'queue', parameters, options);
  return { ...result, eta: governorEvent(result.receipt, parameters.governor, 'ProposalQueued').args.etaSeconds };
}

/**
 * Executes a queued proposal whose timelock delay has passed, sending the sum of its calls' values.
 *
 * @example
 * await executeProposal(walletClient, { governor, proposalId, fromBlock });
 */
export async function executeProposal(
  client: SigningClient,
  parameters: ProposalLifecycleParameters,
  options: TransactionOptions = {},
): Promise<TransactionResult> {
  const result = await sendLifecycleCall(client, 'execute', parameters, options);
  governorEvent(result.receipt, parameters.governor, 'ProposalExecuted');
  return result;
}

/**
 * Calls `queue` or `execute`, which take the proposal's actions rather than its id: they come from `actions` or
 * from the proposal's `ProposalCreated` event. `execute` sends the sum of the calls' values.
 */
async function sendLifecycleCall(
  client: SigningClient,
  functionName: 'queue' | 'execute',
  { governor, proposalId, actions, fromBlock = 0n, maxBlockRange }: ProposalLifecycleParameters,
  options: TransactionOptions,
): Promise<TransactionResult> {
  const { signal } = options;
  const { targets, values, calldatas, descriptionHash } =
    actions ?? (await findProposalCreated(client, { governor, proposalId, fromBlock, maxBlockRange, signal }));
  signal?.throwIfAborted();
  const call = { account: client.account, address: governor, abi: ratingGovernorAbi } as const;
  const args = [targets, values, calldatas, descriptionHash] as const;
  const { request } =
    functionName === 'queue'
      ? await simulateContract(client, { ...call, functionName, args })
      : await simulateContract(client, { ...call, functionName, args, value: values.reduce((a, b) => a + b, 0n) });
  return sendSimulatedRequest(client, request, options);
}

function governorEvent<const eventName extends 'ProposalCreated' | 'VoteCast' | 'ProposalQueued' | 'ProposalExecuted'>(
  receipt: TransactionReceipt,
  governor: Address,
  eventName: eventName,
) {
  const [log] = parseEventLogs({
    abi: ratingGovernorAbi,
    eventName,
    logs: receipt.logs.filter((log) => log.address.toLowerCase() === governor.toLowerCase()),
  });
  if (!log) throw new MissingEventError(eventName, receipt.transactionHash);
  return log;
}

// ─── Voting power ────────────────────────────────────────────────────────────────────────────────────────────

export interface DelegateParameters {
  token: Address;
  /** Who votes with the account's balance from now on; the account itself to take its votes back. */
  delegatee: Address;
}

/**
 * Delegates the account's voting power. A holder who never delegated votes with their own balance already.
 *
 * @example
 * await delegate(walletClient, { token, delegatee: '0x…' });
 */
export async function delegate(
  client: SigningClient,
  { token, delegatee }: DelegateParameters,
  options: TransactionOptions = {},
): Promise<TransactionResult> {
  options.signal?.throwIfAborted();
  const { request } = await simulateContract(client, {
    account: client.account,
    address: token,
    abi: ratingTokenAbi,
    functionName: 'delegate',
    args: [delegatee],
  });
  return sendSimulatedRequest(client, request, options);
}

export interface GetDelegateParameters {
  token: Address;
  account: Address;
}

/**
 * Who votes with `account`'s balance: the account itself unless it delegated.
 *
 * @example
 * const delegatee = await getDelegate(publicClient, { token, account });
 */
export async function getDelegate(client: ReadClient, { token, account }: GetDelegateParameters): Promise<Address> {
  return readContract(client, { address: token, abi: ratingTokenAbi, functionName: 'delegates', args: [account] });
}

export interface GetVotingPowerParameters {
  token: Address;
  account: Address;
  /** A past timepoint (seconds) such as a proposal's snapshot. Default: now. */
  timepoint?: bigint;
}

/**
 * The votes `account` holds (its own balance unless delegated away, plus what others delegated to it), now or
 * at a past timepoint.
 *
 * @example
 * const power = await getVotingPower(publicClient, { token, account, timepoint: proposal.voteStart });
 */
export async function getVotingPower(
  client: ReadClient,
  { token, account, timepoint }: GetVotingPowerParameters,
): Promise<bigint> {
  const read = { address: token, abi: ratingTokenAbi } as const;
  if (timepoint === undefined) return readContract(client, { ...read, functionName: 'getVotes', args: [account] });
  return readContract(client, { ...read, functionName: 'getPastVotes', args: [account, timepoint] });
}
