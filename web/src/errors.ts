import { BaseError, ChainMismatchError, HttpRequestError, UserRejectedRequestError } from 'viem';
import { describeContractError } from '../../src/chain/describe-error.js';

/** A block of a payload could not be fetched: an availability problem, not a mismatch. */
export class PayloadUnreachableError extends Error {
  override name = 'PayloadUnreachableError';
}

/** The wallet is connected to another chain than the DAO's. */
export class WrongWalletChainError extends Error {
  override name = 'WrongWalletChainError';
}

/**
 * One sentence for anything that went wrong, for people: a rejected signature, a wallet on the wrong chain, a
 * chain the server cannot reach, or a contract's custom error in words (the same sentences as the CLI's).
 */
export function describeError(error: unknown): string {
  if (isUserRejection(error)) return 'You rejected the request in your wallet, so nothing was sent.';
  if (error instanceof BaseError) {
    const mismatch = error.walk((cause) => cause instanceof ChainMismatchError);
    if (mismatch) return `Your wallet is on another chain than the DAO. ${(mismatch as BaseError).shortMessage}`;
    const http = error.walk((cause) => cause instanceof HttpRequestError) as HttpRequestError | null;
    if (http) return describeHttpError(http);
  }
  return describeContractError(error);
}

/** Whether the user said no in their wallet (EIP-1193 code 4001). */
export function isUserRejection(error: unknown): boolean {
  for (let cause = error, depth = 0; cause instanceof Object && depth < 16; depth++) {
    if (cause instanceof UserRejectedRequestError || (cause as { code?: unknown }).code === 4001) return true;
    cause = (cause as { cause?: unknown }).cause;
  }
  return false;
}

/** The server's own words when its /rpc proxy cannot reach the chain, or what the HTTP status means. */
function describeHttpError(error: HttpRequestError): string {
  // viem puts the `error` field of a JSON answer, as JSON, in `details`; nrp web's is a sentence.
  let said: unknown;
  try {
    said = JSON.parse(error.details);
  } catch {
    said = undefined;
  }
  if (typeof said === 'string' && said !== '') return `The chain cannot be reached: ${sentence(said)}`;
  if (error.status === undefined) return 'The app’s server (nrp web) cannot be reached; is it still running?';
  return `The chain cannot be reached: the app’s server answered HTTP ${error.status}.`;
}

/** `text` ending with a full stop, unless it ends with one already (or another mark). */
export function sentence(text: string): string {
  return /[.!?]$/.test(text) ? text : `${text}.`;
}
