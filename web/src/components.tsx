import type { ReactNode } from 'react';
import type { ProposalState } from '../../src/chain/enums.js';
import { describeError } from './errors.js';

/** A short wait, announced politely. */
export function Loading({ children = 'Loading…' }: { children?: ReactNode }) {
  return (
    <p role="status" className="muted">
      <span className="spinner" aria-hidden="true" /> {children}
    </p>
  );
}

/** Something that could not be read or done, in words, with a way to try again. */
export function ErrorNotice({ error, retry, what }: { error: unknown; retry?: () => void; what?: string }) {
  return (
    <div role="alert" className="notice notice-error">
      {what && <strong>{what} </strong>}
      {describeError(error)}{' '}
      {retry && (
        <button type="button" onClick={retry}>
          Try again
        </button>
      )}
    </div>
  );
}

const STATE_WORDS: Record<ProposalState, string> = {
  pending: 'Pending',
  active: 'Voting open',
  canceled: 'Canceled',
  defeated: 'Defeated',
  succeeded: 'Passed',
  queued: 'Queued',
  expired: 'Expired',
  executed: 'Executed',
};

/** A proposal's state as a word (never by colour alone). */
export function StateBadge({ state }: { state: ProposalState }) {
  return (
    <span className={`badge badge-${state}`} data-state={state}>
      {STATE_WORDS[state]}
    </span>
  );
}

/** A long hex value that wraps anywhere rather than widening the page. */
export function Mono({ children, title }: { children: ReactNode; title?: string }) {
  return (
    <span className="mono" title={title}>
      {children}
    </span>
  );
}

/** Labelled facts, as a description list. */
export function Facts({ items }: { items: [ReactNode, ReactNode][] }) {
  return (
    <dl className="facts">
      {items.map(([term, value], index) => (
        // biome-ignore lint/suspicious/noArrayIndexKey: a fixed list, in a fixed order.
        <div key={index}>
          <dt>{term}</dt>
          <dd>{value}</dd>
        </div>
      ))}
    </dl>
  );
}
