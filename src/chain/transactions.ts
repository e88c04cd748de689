import type { Account, Chain, Client, Hash, TransactionReceipt, Transport, WriteContractParameters } from 'viem';
import { waitForTransactionReceipt, writeContract } from 'viem/actions';
import { TransactionRevertedError } from './errors.js';

/** A client that can sign: a wallet client with an account. */
export type SigningClient = Client<Transport, Chain | undefined, Account>;

/** A client that can read: any viem client, public or wallet. */
export type ReadClient = Client<Transport, Chain | undefined>;

/** Options of every action that sends a transaction. */
export interface TransactionOptions {
  /** Stops between steps (simulation, sending, waiting for the receipt); a sent transaction stays sent. */
  signal?: AbortSignal;
  /** Called with the hash as soon as the transaction is sent, before it is mined, e.g. to show it in a UI. */
  onTransactionSent?: (hash: Hash) => void;
  /** Blocks to wait for after the one that includes the transaction. Default 1 (just mined). */
  confirmations?: number;
}

/** What every action that sends a transaction returns. */
export interface TransactionResult {
  hash: Hash;
  receipt: TransactionReceipt;
}

/**
 * Sends a request that `simulateContract` has already checked, waits for its receipt, and throws
 * {@link TransactionRevertedError} if it reverted after all (another transaction got in first).
 *
 * Actions simulate first because a simulation reverts with the contract's custom error, which
 * `describeContractError` can put in words, and returns the call's result.
 */
export async function sendSimulatedRequest(
  client: SigningClient,
  request: WriteContractParameters,
  { signal, onTransactionSent, confirmations }: TransactionOptions = {},
): Promise<TransactionResult> {
  signal?.throwIfAborted();
  const hash = await writeContract(client, request);
  onTransactionSent?.(hash);
  const receipt = await untilAborted(waitForTransactionReceipt(client, { hash, confirmations }), signal);
  if (receipt.status !== 'success') throw new TransactionRevertedError(hash);
  return { hash, receipt };
}

/** `promise`, or a rejection with the signal's reason as soon as `signal` aborts. */
export function untilAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  signal.throwIfAborted();
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
