// Solidity enums and bitmaps as string unions. The index of each name is its value on chain.

/** IGovernor.ProposalState, in the order of its values. */
export const PROPOSAL_STATES = [
  'pending',
  'active',
  'canceled',
  'defeated',
  'succeeded',
  'queued',
  'expired',
  'executed',
] as const;
export type ProposalState = (typeof PROPOSAL_STATES)[number];

/** IRatingServerRegistry.Status, in the order of its values. */
export const SERVER_STATUSES = ['none', 'applied', 'active', 'suspended', 'removed'] as const;
export type ServerStatus = (typeof SERVER_STATUSES)[number];

/** GovernorCountingSimple's vote types: against = 0, for = 1, abstain = 2. */
export const VOTE_SUPPORTS = ['against', 'for', 'abstain'] as const;
export type VoteSupport = (typeof VOTE_SUPPORTS)[number];

/** TimelockController.OperationState, in the order of its values. */
export const TIMELOCK_OPERATION_STATES = ['unset', 'waiting', 'ready', 'done'] as const;
export type TimelockOperationState = (typeof TIMELOCK_OPERATION_STATES)[number];

/** The name of enum value `value` for messages, with a readable placeholder for a value this code does not know. */
export function enumLabel(names: readonly string[], value: number | bigint): string {
  return names[Number(value)] ?? `unknown (${value})`;
}

/** The names whose bits are set in `bitmap`, as OpenZeppelin encodes sets of enum values (bit i for value i). */
export function namesInBitmap<T extends string>(names: readonly T[], bitmap: bigint | `0x${string}`): T[] {
  const bits = BigInt(bitmap);
  return names.filter((_, index) => (bits >> BigInt(index)) & 1n);
}

/** The name of enum value `value`; throws for a value newer than this code (which would be a contract upgrade). */
export function decodeEnum<T extends string>(names: readonly T[], value: number | bigint, what: string): T {
  const name = names[Number(value)];
  if (name === undefined) throw new Error(`Unknown ${what} ${value} returned by the contract.`);
  return name;
}

/** The on-chain value of `name`; throws for a name not in `names` (possible from untyped input such as argv). */
export function encodeEnum<T extends string>(names: readonly T[], name: T): number {
  const value = names.indexOf(name);
  if (value < 0) throw new Error(`Unknown value "${name}": expected one of ${names.join(', ')}.`);
  return value;
}
