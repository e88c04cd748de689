import { type ReactNode, useCallback, useRef, useState } from 'react';
import type { Hash } from 'viem';
import type { NrpWalletClient } from '../../src/chain/clients.js';
import type { TransactionOptions } from '../../src/chain/transactions.js';
import { useDao } from './dao.js';
import { describeError } from './errors.js';
import { useWallet } from './wallet.js';

/** Where an action that ends in a transaction stands. */
export type TxState =
  | { phase: 'idle' }
  | { phase: 'working'; label: string; step: string; done?: number; total?: number }
  | { phase: 'signing'; label: string; how: string }
  | { phase: 'pending'; label: string; hash: Hash }
  | { phase: 'done'; label: string; hash?: Hash; result: ReactNode }
  | { phase: 'failed'; label: string; message: string };

/** What an action gets to do its work and report on it. */
export interface TxContext {
  /** The wallet's client, checked to be on the DAO's chain. */
  client: NrpWalletClient;
  /** Reports a step before signing, such as building or uploading a payload. */
  step: (text: string, done?: number, total?: number) => void;
  /** Reports that the transaction is being signed: call it after the steps, before the chain action. */
  signing: () => void;
  /** Pass to the chain action: it moves the progress on to "waiting for the transaction to be mined". */
  options: TransactionOptions;
}

export interface Transaction {
  state: TxState;
  busy: boolean;
  /**
   * Runs `action` with the connected wallet, showing each phase, and `describe`s its result when it is mined.
   * Any failure is shown in words (a contract's custom error, a rejected signature, a wrong chain); it returns
   * undefined then.
   */
  run: <T>(
    label: string,
    action: (context: TxContext) => Promise<T>,
    describe: (result: T) => ReactNode,
  ) => Promise<T | undefined>;
  reset: () => void;
}

export function useTransaction(): Transaction {
  const { refresh } = useDao();
  const { signer, wallet } = useWallet();
  const [state, setState] = useState<TxState>({ phase: 'idle' });
  const running = useRef(false);

  const run = useCallback(
    async <T,>(label: string, action: (context: TxContext) => Promise<T>, describe: (result: T) => ReactNode) => {
      if (running.current) return undefined;
      running.current = true;
      try {
        const client = signer();
        const how =
          wallet?.kind === 'development'
            ? `Signing with development account ${wallet.index} and sending…`
            : 'Check the transaction in your wallet and confirm it…';
        let sent = false;
        const context: TxContext = {
          client,
          step: (step, done, total) => setState({ phase: 'working', label, step, done, total }),
          signing: () => setState({ phase: 'signing', label, how }),
          options: {
            onTransactionSent: (hash) => {
              sent = true;
              setState({ phase: 'pending', label, hash });
            },
          },
        };
        context.signing();
        const result = await action(context);
        setState((current) => ({
          phase: 'done',
          label,
          hash: current.phase === 'pending' ? current.hash : undefined,
          result: describe(result),
        }));
        if (sent) refresh();
        return result;
      } catch (error) {
        setState({ phase: 'failed', label, message: describeError(error) });
        return undefined;
      } finally {
        running.current = false;
      }
    },
    [signer, wallet, refresh],
  );

  const busy = state.phase === 'working' || state.phase === 'signing' || state.phase === 'pending';
  return { state, busy, run, reset: useCallback(() => setState({ phase: 'idle' }), []) };
}

/** The progress of a transaction, announced to screen readers as it changes; a failure as an alert. */
export function TxProgress({ state }: { state: TxState }) {
  switch (state.phase) {
    case 'idle':
      return <div role="status" className="tx-idle" />;
    case 'working':
      return (
        <div role="status" className="tx tx-working">
          <span className="spinner" aria-hidden="true" /> <strong>{state.label}:</strong> {state.step}
          {state.total !== undefined && (
            <progress value={state.done ?? 0} max={state.total} aria-label={state.step} className="tx-bar" />
          )}
        </div>
      );
    case 'signing':
      return (
        <div role="status" className="tx tx-working">
          <span className="spinner" aria-hidden="true" /> <strong>{state.label}:</strong> {state.how}
        </div>
      );
    case 'pending':
      return (
        <div role="status" className="tx tx-working">
          <span className="spinner" aria-hidden="true" /> <strong>{state.label}:</strong> sent as{' '}
          <code className="mono">{state.hash}</code>; waiting for it to be mined…
        </div>
      );
    case 'done':
      return (
        <div role="status" className="tx tx-done">
          <strong>
            <span aria-hidden="true">✓ </span>
            {state.label}: done.
          </strong>{' '}
          {state.result}
          {state.hash && (
            <div className="muted small">
              Transaction <code className="mono">{state.hash}</code>
            </div>
          )}
        </div>
      );
    case 'failed':
      return (
        <div role="alert" className="tx tx-failed">
          <strong>{state.label} failed.</strong> {state.message}
        </div>
      );
  }
}
