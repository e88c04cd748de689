import type { Address, Hash, Hex } from 'viem';

// Fields are assigned in constructors rather than declared as parameter properties, so this file also
// loads under Node's type stripping, which cannot erase parameter properties.

/**
 * A problem with what was asked of the chain (an unknown id, a version not yet published, a bad key),
 * worth showing to the user as one line. Contract reverts stay viem errors; see `describeContractError`.
 */
export class ChainError extends Error {
  override name = 'ChainError';
}

/** The Governor knows no proposal with this id, or its ProposalCreated event is not in the blocks searched. */
export class ProposalNotFoundError extends ChainError {
  override name = 'ProposalNotFoundError';
  readonly governor: Address;
  readonly proposalId: bigint;

  constructor(governor: Address, proposalId: bigint, detail = 'the Governor has no such proposal') {
    super(`Proposal ${proposalId} not found on Governor ${governor}: ${detail}.`);
    this.governor = governor;
    this.proposalId = proposalId;
  }
}

/** No rating server was ever registered under this id. */
export class UnknownServerError extends ChainError {
  override name = 'UnknownServerError';
  readonly registry: Address;
  readonly serverId: bigint;

  constructor(registry: Address, serverId: bigint) {
    super(`No rating server ${serverId} in registry ${registry}.`);
    this.registry = registry;
    this.serverId = serverId;
  }
}

/** The list has not published this version (or any version, when it is still at 0). */
export class UnknownListVersionError extends ChainError {
  override name = 'UnknownListVersionError';
  readonly list: Address;
  readonly version: bigint;
  readonly currentVersion: bigint;

  constructor(list: Address, version: bigint, currentVersion: bigint) {
    super(
      currentVersion === 0n
        ? `List ${list} has not published any version yet.`
        : `List ${list} has no version ${version}; its current version is ${currentVersion}.`,
    );
    this.list = list;
    this.version = version;
    this.currentVersion = currentVersion;
  }
}

/** A payload CID on chain is not a valid binary CID, so the version's entries cannot be fetched. */
export class InvalidPayloadCidError extends ChainError {
  override name = 'InvalidPayloadCidError';
  readonly list: Address;
  readonly version: bigint;
  readonly payloadCidHex: Hex;

  constructor(list: Address, version: bigint, payloadCidHex: Hex, options?: ErrorOptions) {
    super(`Version ${version} of list ${list} has an invalid payload CID ${payloadCidHex}.`, options);
    this.list = list;
    this.version = version;
    this.payloadCidHex = payloadCidHex;
  }
}

/** A transaction was mined but reverted. */
export class TransactionRevertedError extends ChainError {
  override name = 'TransactionRevertedError';
  readonly hash: Hash;

  constructor(hash: Hash) {
    super(`Transaction ${hash} was mined but reverted.`);
    this.hash = hash;
  }
}

/** A mined transaction lacks the event its call always emits: the address is probably not the expected contract. */
export class MissingEventError extends ChainError {
  override name = 'MissingEventError';
  readonly eventName: string;
  readonly hash: Hash;

  constructor(eventName: string, hash: Hash) {
    super(`Transaction ${hash} succeeded but emitted no ${eventName} event; is the contract address right?`);
    this.eventName = eventName;
    this.hash = hash;
  }
}

/** A private key that is not 32 bytes of hex. The message never repeats the key. */
export class InvalidPrivateKeyError extends ChainError {
  override name = 'InvalidPrivateKeyError';

  constructor() {
    super('The private key is not valid: expected 64 hex digits, optionally prefixed with 0x.');
  }
}
