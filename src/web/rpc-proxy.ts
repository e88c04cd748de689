import { logger } from '@libp2p/logger';
import { HttpApiError } from '../utils/http-api.js';

const log = logger('nrp:web:rpc');

/** The local development chain, where the app may move the clock (Hardhat's chain id). */
const LOCAL_CHAIN_ID = 31337;

/** Methods that sign with keys the node holds: the app signs in the browser or the wallet, never through here. */
const SIGNING_METHODS = new Set([
  'eth_accounts',
  'eth_sendTransaction',
  'eth_sign',
  'eth_signTransaction',
  'eth_signTypedData',
  'eth_signTypedData_v3',
  'eth_signTypedData_v4',
  'personal_sign',
]);

/** Development methods the app uses on the local chain only, to skip a voting period or a timelock delay. */
const LOCAL_CHAIN_METHODS = new Set(['evm_increaseTime', 'evm_mine']);

export interface RpcProxyInit {
  /** The chain's JSON-RPC endpoint; it may hold an API key, so it is never shown in full. */
  rpcUrl: string;
  /** Milliseconds to wait for the RPC. Default 30,000. */
  timeoutMs?: number;
}

/** Where the proxy forwards to, fit to show: the scheme and host only, without a path or credentials. */
export function redactRpcUrl(rpcUrl: string): string {
  try {
    return new URL(rpcUrl).origin;
  } catch {
    return 'an invalid URL';
  }
}

/**
 * A same-origin JSON-RPC proxy, so the browser reaches any RPC without CORS and without seeing its URL. It
 * forwards reads and signed transactions; it refuses methods that would sign with the node's own accounts, and
 * Hardhat's clock methods except on the local chain. An RPC that cannot be reached is a 502 with a sentence
 * that says so; one that does not answer in time, a 504.
 */
export class RpcProxy {
  readonly #rpcUrl: string;
  readonly #timeoutMs: number;
  #chainId?: Promise<number | undefined>;

  constructor(init: RpcProxyInit) {
    this.#rpcUrl = init.rpcUrl;
    this.#timeoutMs = init.timeoutMs ?? 30_000;
  }

  /** Forwards one JSON-RPC body (a call or a batch) and returns the RPC's JSON answer. */
  async forward(body: Uint8Array): Promise<unknown> {
    let parsed: unknown;
    try {
      parsed = JSON.parse(new TextDecoder().decode(body));
    } catch {
      throw new HttpApiError('the body is not a JSON-RPC request');
    }
    const calls = Array.isArray(parsed) ? parsed : [parsed];
    if (calls.length === 0) throw new HttpApiError('an empty JSON-RPC batch');
    for (const call of calls) await this.#check(call);
    return this.#post(body);
  }

  async #check(call: unknown): Promise<void> {
    const method = (call as { method?: unknown } | null)?.method;
    if (typeof method !== 'string') throw new HttpApiError('a JSON-RPC request without a method');
    if (SIGNING_METHODS.has(method)) {
      throw new HttpApiError(`${method} is refused here: transactions are signed in the browser or your wallet`, 403);
    }
    if (LOCAL_CHAIN_METHODS.has(method)) {
      if ((await this.#localChainId()) !== LOCAL_CHAIN_ID) {
        throw new HttpApiError(`${method} is allowed on the local development chain only`, 403);
      }
      return;
    }
    if (!/^(eth|net|web3)_/.test(method)) throw new HttpApiError(`the method ${method} is not forwarded`, 403);
  }

  /** The chain id, asked once; a failure is asked again next time. */
  #localChainId(): Promise<number | undefined> {
    this.#chainId ??= this.#post(new TextEncoder().encode('{"jsonrpc":"2.0","id":1,"method":"eth_chainId"}'))
      .then((answer) => Number((answer as { result?: string }).result))
      .catch(() => {
        this.#chainId = undefined;
        return undefined;
      });
    return this.#chainId;
  }

  async #post(body: Uint8Array): Promise<unknown> {
    const where = redactRpcUrl(this.#rpcUrl);
    let response: Response;
    try {
      response = await fetch(this.#rpcUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: body as Uint8Array<ArrayBuffer>,
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (error) {
      const err = error as Error & { cause?: { code?: string } };
      log('RPC %s unreachable: %s', where, err.cause?.code ?? err.message);
      if (err.name === 'TimeoutError') {
        throw new HttpApiError(`the chain RPC at ${where} did not answer within ${this.#timeoutMs / 1000} s`, 504);
      }
      throw new HttpApiError(
        `cannot reach the chain RPC at ${where} (${err.cause?.code ?? err.message}); is the chain running?`,
        502,
      );
    }
    const text = await response.text();
    let answer: unknown;
    try {
      answer = JSON.parse(text);
    } catch {
      const detail = response.ok ? 'something that is not JSON' : `HTTP ${response.status}`;
      throw new HttpApiError(`the chain RPC at ${where} answered ${detail}`, 502);
    }
    // Some RPCs send JSON-RPC errors with an HTTP error status: the error itself is what the app needs.
    if (!response.ok && !isJsonRpc(answer)) {
      throw new HttpApiError(`the chain RPC at ${where} answered HTTP ${response.status}`, 502);
    }
    return answer;
  }
}

function isJsonRpc(answer: unknown): boolean {
  const first = Array.isArray(answer) ? answer[0] : answer;
  return typeof first === 'object' && first !== null && (first as { jsonrpc?: unknown }).jsonrpc === '2.0';
}
