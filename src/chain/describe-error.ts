import {
  type Abi,
  BaseError,
  type ContractErrorArgs,
  ContractFunctionRevertedError,
  ContractFunctionZeroDataError,
  decodeErrorResult,
  type Hex,
  keccak256,
  toHex,
} from 'viem';
import {
  illegalDataListAbi,
  ratingGovernorAbi,
  ratingServerRegistryAbi,
  ratingTokenAbi,
  timelockControllerAbi,
} from './abis.js';
import { enumLabel, namesInBitmap, PROPOSAL_STATES, SERVER_STATUSES, TIMELOCK_OPERATION_STATES } from './enums.js';
import { ChainError } from './errors.js';

/** Every ABI of the DAO, as one type: a revert can come from any contract down a call chain. */
type NrpAbi = readonly [
  ...typeof illegalDataListAbi,
  ...typeof ratingServerRegistryAbi,
  ...typeof ratingGovernorAbi,
  ...typeof ratingTokenAbi,
  ...typeof timelockControllerAbi,
];
type NrpErrorItem = Extract<NrpAbi[number], { type: 'error' }>;
/** Name of a custom error that some DAO contract can raise. */
export type NrpErrorName = NrpErrorItem['name'];
type NrpErrorArgs<name extends NrpErrorName> = Extract<ContractErrorArgs<NrpAbi, name>, readonly unknown[]>;

/** A custom error decoded from revert data, typed by its name. */
export type NrpContractError = { [name in NrpErrorName]: { errorName: name; args: NrpErrorArgs<name> } }[NrpErrorName];

/**
 * The custom errors of every DAO contract, once each. A revert bubbles up unchanged through the Governor
 * and the timelock, so a failed `execute` on the Governor can carry an `IllegalDataList…` error; decoding
 * against all of them names it whatever ABI the failing call was made with.
 */
export const nrpErrorAbi: readonly NrpErrorItem[] = (() => {
  const byName = new Map<string, NrpErrorItem>();
  for (const abi of [
    illegalDataListAbi,
    ratingServerRegistryAbi,
    ratingGovernorAbi,
    ratingTokenAbi,
    timelockControllerAbi,
  ]) {
    for (const item of abi) if (item.type === 'error' && !byName.has(item.name)) byName.set(item.name, item);
  }
  return [...byName.values()];
})();

const ROLE_NAMES = new Map<Hex, string>([
  ['0x0000000000000000000000000000000000000000000000000000000000000000', 'admin'],
  ...['PROPOSER_ROLE', 'CANCELLER_ROLE', 'EXECUTOR_ROLE'].map((role): [Hex, string] => [
    keccak256(toHex(role)),
    role.replace('_ROLE', '').toLowerCase(),
  ]),
]);

function oneOf(names: readonly string[]): string {
  if (names.length <= 1) return names[0] ?? 'nothing';
  return `${names.slice(0, -1).join(', ')} or ${names.at(-1)}`;
}

const serverStatus = (value: number) => enumLabel(SERVER_STATUSES, value);

/**
 * One plain-English sentence per custom error. The mapped type makes this table exhaustive: a new error in
 * a contract fails type-checking here until it has a sentence.
 */
const SENTENCES: { [name in NrpErrorName]: (...args: NrpErrorArgs<name>) => string } = {
  // IllegalDataList
  IllegalDataListCountMismatch: (count, expected) =>
    `The new version claims ${count} entries, but the parent's count plus added minus removed is ${expected}.`,
  IllegalDataListEmptyPayloadCid: () => 'A list version needs the CID of its payload.',
  IllegalDataListEmptyPolicyCid: () => 'A list needs the CID of its policy document.',
  IllegalDataListEmptySetRoot: (root) => `An empty list must have the zero Merkle root, not ${root}.`,
  IllegalDataListInvalidParent: (parentList) => `${parentList} is not a contract, so it cannot be forked.`,
  IllegalDataListRemovedExceedsCount: (removed, parentCount) =>
    `Cannot remove ${removed} entries from a parent version that has only ${parentCount}.`,
  IllegalDataListStaleParent: (parentVersion, currentVersion) =>
    `The new list version was built on version ${parentVersion}, but the list is now at version ${currentVersion}; ` +
    'rebuild it on the current version and propose it again.',
  IllegalDataListUnauthorized: (caller) =>
    `${caller} may not publish list versions: only the list's governance timelock may, after a vote.`,
  IllegalDataListUnknownVersion: (version, currentVersion) =>
    currentVersion === 0n
      ? `The list has no version ${version}: it has not published any version yet.`
      : `The list has no version ${version}; its current version is ${currentVersion}.`,
  IllegalDataListUnsupportedPayloadCid: (cid) =>
    `The payload CID ${cid} is not supported: it must be a binary CID with a 32-byte digest.`,
  IllegalDataListZeroExecutor: () => 'A list needs a governance executor; the zero address cannot be one.',
  IllegalDataListZeroRoot: () => 'A list version with entries cannot have the zero Merkle root.',
  SafeCastOverflowedUintDowncast: (bits, value) => `The value ${value} does not fit in ${bits} bits.`,

  // RatingServerRegistry
  RatingServerRegistryEmptyMultiaddr: (index) => `Multiaddr number ${index + 1n} is empty.`,
  RatingServerRegistryEmptyPeerId: () => 'A rating server needs a peer id.',
  RatingServerRegistryEmptyPolicyCid: () => 'A rating server needs the CID of its rating policy.',
  RatingServerRegistryInvalidList: (list) => `${list} is not a contract, so it cannot be the list a server enforces.`,
  RatingServerRegistryInvalidTransition: (serverId, from, to) =>
    `Rating server ${serverId} cannot go from ${serverStatus(from)} to ${serverStatus(to)}.`,
  RatingServerRegistryMultiaddrCount: (count, max) =>
    `A rating server needs between 1 and ${max} multiaddrs; ${count} were given.`,
  RatingServerRegistryNotOperator: (serverId, caller) => `${caller} is not the operator of rating server ${serverId}.`,
  RatingServerRegistryPeerIdTaken: (peerId, serverId) =>
    `The peer id ${peerId} already belongs to rating server ${serverId}.`,
  RatingServerRegistryServerRemoved: (serverId) =>
    `Rating server ${serverId} was removed; its registration can no longer change.`,
  RatingServerRegistryUnauthorized: (caller) =>
    `${caller} may not change a rating server's status: only the registry's governance timelock may, after a vote.`,
  RatingServerRegistryUnknownServer: (serverId) => `There is no rating server ${serverId}.`,
  RatingServerRegistryZeroExecutor: () => 'The registry needs a governance executor; the zero address cannot be one.',

  // RatingGovernor (OpenZeppelin Governor and its extensions)
  CheckpointUnorderedInsertion: () => 'A vote checkpoint was written out of order.',
  ERC6372InconsistentClock: () => "The token's clock and the Governor's clock disagree.",
  FailedCall: () => 'A call made by the contract failed without giving a reason.',
  GovernorAlreadyCastVote: (voter) => `${voter} has already voted on this proposal.`,
  GovernorAlreadyQueuedProposal: (proposalId) => `Proposal ${proposalId} is already queued.`,
  GovernorDisabledDeposit: () => 'The Governor does not accept payments; send the call without value.',
  GovernorInsufficientProposerVotes: (proposer, votes, threshold) =>
    `${proposer} has ${votes} votes, fewer than the ${threshold} needed to make a proposal.`,
  GovernorInvalidProposalLength: (targets, calldatas, values) =>
    `A proposal needs at least one call and as many targets, calldatas and values; it has ${targets}, ${calldatas} and ${values}.`,
  GovernorInvalidQuorumFraction: (numerator, denominator) =>
    `A quorum of ${numerator}/${denominator} of the supply is not possible.`,
  GovernorInvalidSignature: (voter) => `The vote signature for ${voter} is not valid.`,
  GovernorInvalidVoteParams: () => 'The vote parameters are not valid.',
  GovernorInvalidVoteType: () => 'A vote must be for, against or abstain.',
  GovernorInvalidVotingPeriod: (votingPeriod) => `A voting period of ${votingPeriod} seconds is not possible.`,
  GovernorNonexistentProposal: (proposalId) => `There is no proposal ${proposalId}.`,
  GovernorOnlyExecutor: (account) =>
    `${account} is not the Governor's executor: only a passed proposal may change the Governor.`,
  GovernorPreventLateQuorumVoteExtensionTooLarge: (extension, max) =>
    `A vote extension of ${extension} seconds is more than the maximum of ${max}.`,
  GovernorProposalQueueingFailed: (proposalId) => `Proposal ${proposalId} could not be queued in the timelock.`,
  GovernorProposalQueueingNotRequired: (proposalId) => `Proposal ${proposalId} does not need to be queued.`,
  GovernorRestrictedProposer: (proposer) =>
    `${proposer} may not submit this proposal: its description reserves it for another proposer.`,
  GovernorUnableToCancel: (proposalId, account) => `${account} cannot cancel proposal ${proposalId}.`,
  GovernorUnexpectedProposalState: (proposalId, current, expectedStates) =>
    `Proposal ${proposalId} is ${enumLabel(PROPOSAL_STATES, current)}, but this needs it to be ` +
    `${oneOf(namesInBitmap(PROPOSAL_STATES, expectedStates))}.`,
  InvalidAccountNonce: (account, currentNonce) =>
    `The signed message for ${account} does not use its current nonce, ${currentNonce}.`,
  InvalidShortString: () => 'A short string is not valid.',
  StringTooLong: (text) => `The text "${text}" is too long.`,

  // RatingToken (OpenZeppelin ERC20, ERC20Permit, ERC20Votes)
  ECDSAInvalidSignature: () => 'The signature is not valid.',
  ECDSAInvalidSignatureLength: (length) => `A signature of ${length} bytes is not valid.`,
  ECDSAInvalidSignatureS: () => 'The signature is not valid (its s value is out of range).',
  ERC20ExceededSafeSupply: (increasedSupply, cap) =>
    `A token supply of ${increasedSupply} would exceed the most that votes can count, ${cap}.`,
  ERC20InsufficientAllowance: (spender, allowance, needed) =>
    `${spender} may spend ${allowance} tokens but needs ${needed}.`,
  ERC20InsufficientBalance: (sender, balance, needed) => `${sender} has ${balance} tokens but needs ${needed}.`,
  ERC20InvalidApprover: (approver) => `${approver} cannot approve spending.`,
  ERC20InvalidReceiver: (receiver) => `${receiver} cannot receive tokens.`,
  ERC20InvalidSender: (sender) => `${sender} cannot send tokens.`,
  ERC20InvalidSpender: (spender) => `${spender} cannot be allowed to spend tokens.`,
  ERC2612ExpiredSignature: (deadline) => `The permit signature expired at ${deadline}.`,
  ERC2612InvalidSigner: (signer, owner) => `The permit was signed by ${signer}, not by the owner ${owner}.`,
  ERC5805FutureLookup: (timepoint, clock) =>
    `Votes at ${timepoint} are not known yet: the clock is at ${clock}, so ask about a past timepoint.`,
  RatingTokenDistributionLengthMismatch: (holders, amounts) =>
    `The initial distribution names ${holders} holders but ${amounts} amounts.`,
  RatingTokenEmptyDistribution: () => 'The initial distribution mints no tokens, so nobody could ever vote.',
  VotesExpiredSignature: (expiry) => `The delegation signature expired at ${expiry}.`,

  // TimelockController
  AccessControlBadConfirmation: () => 'An account can only renounce its own roles.',
  AccessControlUnauthorizedAccount: (account, neededRole) =>
    `${account} lacks the timelock's ${ROLE_NAMES.get(neededRole) ?? neededRole} role.`,
  TimelockInsufficientDelay: (delay, minDelay) =>
    `A delay of ${delay} seconds is shorter than the timelock's minimum of ${minDelay}.`,
  TimelockInvalidOperationLength: (targets, payloads, values) =>
    `A timelock operation needs as many targets, payloads and values; it has ${targets}, ${payloads} and ${values}.`,
  TimelockUnauthorizedCaller: (caller) => `${caller} may not call the timelock directly.`,
  TimelockUnexecutedPredecessor: (predecessorId) => `Timelock operation ${predecessorId} must be executed first.`,
  TimelockUnexpectedOperationState: (operationId, expectedStates) =>
    `Timelock operation ${operationId} is not ${oneOf(namesInBitmap(TIMELOCK_OPERATION_STATES, expectedStates))}` +
    ' (a queued proposal is ready only once the timelock delay has passed).',
};

/**
 * The custom error that `data` (revert data) encodes, if it is one of the DAO contracts' errors.
 *
 * @example
 * const decoded = decodeRevertData('0x…');
 * if (decoded?.errorName === 'IllegalDataListStaleParent') rebuild(decoded.args[1]);
 */
export function decodeRevertData(data: Hex | undefined): NrpContractError | undefined {
  if (!data || data === '0x') return undefined;
  try {
    const decoded = decodeErrorResult({ abi: nrpErrorAbi as Abi, data });
    if (!Object.hasOwn(SENTENCES, decoded.errorName)) return undefined; // Error(string) and Panic(uint256)
    // viem leaves `args` undefined for an error without parameters.
    return { errorName: decoded.errorName, args: decoded.args ?? [] } as NrpContractError;
  } catch {
    return undefined;
  }
}

/**
 * The DAO custom error behind a failed viem call, such as a `simulateContract` or `writeContract` that
 * reverted, or undefined when the failure was something else.
 *
 * @example
 * try { await executeProposal(walletClient, { governor, proposalId }); }
 * catch (err) { if (decodeContractError(err)?.errorName === 'IllegalDataListStaleParent') … }
 */
export function decodeContractError(err: unknown): NrpContractError | undefined {
  const revert = findRevert(err);
  return decodeRevertData(revert?.raw) ?? decodeRevertData(findRevertData(err));
}

/**
 * One plain-English sentence for an error from a chain action, for the CLI and the web app to show:
 * a DAO custom error in words (`IllegalDataListStaleParent(1, 2)` becomes "The new list version was built on
 * version 1, but the list is now at version 2; …"), a revert reason, or otherwise the error's short message.
 *
 * @example
 * try {
 *   await castVote(walletClient, { governor, proposalId, support: 'for' });
 * } catch (err) {
 *   console.error(describeContractError(err)); // "Proposal 123… is defeated, but this needs it to be active."
 * }
 */
export function describeContractError(err: unknown): string {
  if (err instanceof ChainError) return err.message;
  const decoded = decodeContractError(err);
  if (decoded) return describeDecoded(decoded);
  const revert = findRevert(err);
  if (revert?.reason) return `The contract refused the call: ${revert.reason}.`;
  if (revert?.signature) {
    return `The contract refused the call with an error this client does not know (${revert.signature}).`;
  }
  if (revert) return 'The contract refused the call without giving a reason.';
  if (err instanceof BaseError) {
    if (err.walk((cause) => cause instanceof ContractFunctionZeroDataError)) {
      return 'No contract answered at that address; check the contract address and the network.';
    }
    return err.shortMessage;
  }
  return err instanceof Error ? err.message : String(err);
}

function describeDecoded({ errorName, args }: NrpContractError): string {
  const sentence = SENTENCES[errorName] as (...args: readonly unknown[]) => string;
  return sentence(...args);
}

/**
 * Revert data anywhere down the chain of causes. A plain `sendTransaction` has no ABI, so viem does not decode
 * its revert; the data is still on the provider's error, as `data` (Hardhat, most HTTP RPCs) or `data.data`
 * (some wallets).
 */
function findRevertData(err: unknown): Hex | undefined {
  for (let cause = err, depth = 0; cause instanceof Object && depth < 16; depth++) {
    const data: unknown = (cause as { data?: unknown }).data;
    const nested: unknown = data instanceof Object ? (data as { data?: unknown }).data : undefined;
    for (const candidate of [data, nested]) {
      if (typeof candidate === 'string' && /^0x[0-9a-fA-F]{8,}$/.test(candidate)) return candidate as Hex;
    }
    cause = (cause as { cause?: unknown }).cause;
  }
  return undefined;
}

function findRevert(err: unknown): ContractFunctionRevertedError | undefined {
  if (!(err instanceof BaseError)) return undefined;
  const revert = err.walk((cause) => cause instanceof ContractFunctionRevertedError);
  return revert instanceof ContractFunctionRevertedError ? revert : undefined;
}
