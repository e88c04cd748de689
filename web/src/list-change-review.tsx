import { useState } from 'react';
import type { Address, Hex } from 'viem';
import type { ProposalState } from '../../src/chain/enums.js';
import type { PublishVersionParameters } from '../../src/chain/lists.js';
import type { BlockSource } from '../../src/lists/blocks.js';
import { type InspectedEntry, inspectListChange, staleParentProblem } from '../../src/lists/inspect.js';
import { serverBlocks } from './blocks.js';
import { ErrorNotice, Loading, Mono } from './components.js';
import { useDao } from './dao.js';
import { PayloadUnreachableError } from './errors.js';
import { href } from './router.js';
import { useAsync } from './use-async.js';

/**
 * What a proposed list version really changes, checked here in the browser with the same library code as
 * `nrp proposal inspect`: the payload is fetched block by block, each block checked against its CID, the
 * root and count recomputed and compared with the proposal, and the entries added and removed listed with
 * their metadata. A mismatch is a loud warning; a payload that cannot be fetched says so, and is never taken
 * for a match.
 */
export function ListChangeReview({
  list,
  call,
  calldata,
  proposalState,
}: {
  list: Address;
  call: PublishVersionParameters;
  calldata: Hex;
  proposalState: ProposalState;
}) {
  const { client } = useDao();
  const [progress, setProgress] = useState<[number, number]>();
  const review = useAsync(
    async (signal) => {
      let unreachable: PayloadUnreachableError | undefined;
      const source: BlockSource = {
        get: async (cid, options) => {
          try {
            return await serverBlocks.get(cid, options);
          } catch (error) {
            if (error instanceof PayloadUnreachableError) unreachable ??= error;
            throw error;
          }
        },
      };
      const report = await inspectListChange(client, source, list, call, {
        chainId: client.chain.id,
        signal,
        onProgress: (done, total) => setProgress([done, total]),
      });
      return { report, unreachable };
    },
    // The payload never changes under its CID; only the list's current version can, which a retry re-reads.
    [client, list, calldata],
  );

  if (!review.data) {
    if (review.error)
      return <ErrorNotice error={review.error} retry={review.reload} what="Cannot check this change:" />;
    return (
      <Loading>
        Fetching the payload and checking it in your browser
        {progress ? ` (block ${progress[0]} of ${progress[1]})` : ''}…
      </Loading>
    );
  }
  const { report, unreachable } = review.data;
  // Once executed, the list is one version past the change, as it should be.
  const expectedStale =
    proposalState === 'executed' ? staleParentProblem(call.parentVersion, report.currentVersion) : '';
  const problems = report.problems.filter((problem) => problem !== expectedStale);
  const version = call.parentVersion + 1n;

  return (
    <div className="stack">
      <p>
        Publishes version <strong>{String(version)}</strong> of list{' '}
        <a href={href('lists', list)}>
          <Mono>{list}</Mono>
        </a>{' '}
        (built on version {String(call.parentVersion)}; the list is now at version {String(report.currentVersion)}):{' '}
        <strong>
          +{call.added} −{call.removed}
        </strong>
        , {call.count} {call.count === 1 ? 'entry' : 'entries'} in all.
      </p>
      <p className="small">
        Payload <Mono>{call.payloadCid.toString()}</Mono>
      </p>
      {unreachable ? (
        <div role="alert" className="notice notice-warning" data-testid="payload-unreachable">
          <strong>The payload cannot be fetched, so this change cannot be checked.</strong> {unreachable.message} Do not
          vote for it until it can be checked: the proposer should keep their IPFS node running (`nrp ipfs serve`), or
          start nrp web with --peer of a node that has the payload.{' '}
          <button type="button" onClick={review.reload}>
            Try again
          </button>
        </div>
      ) : problems.length > 0 ? (
        <div role="alert" className="notice notice-danger" data-testid="payload-mismatch">
          <h4 className="danger-title">
            <span aria-hidden="true">⚠ </span>Do not vote for this proposal as it stands
          </h4>
          <p>Checked in your browser, this change does not match what it claims, or cannot take effect:</p>
          <ul>
            {problems.map((problem) => (
              <li key={problem}>{problem}</li>
            ))}
          </ul>
        </div>
      ) : (
        <p className="notice notice-ok" data-testid="payload-verified">
          <span aria-hidden="true">✓ </span>
          <strong>Checked in your browser:</strong> every block matches its CID, and the {call.count} entries hash to
          the Merkle root the proposal publishes.
        </p>
      )}
      {report.warnings.map((warning) => (
        <p key={warning} className="notice notice-warning">
          {warning}
        </p>
      ))}
      {report.header && !unreachable && (
        <>
          <EntryTable caption={`Added (${report.added.length})`} entries={report.added} testId="added-entries" />
          <EntryTable
            caption={`Removed (${report.removed.length})`}
            entries={report.removed}
            testId="removed-entries"
          />
        </>
      )}
    </div>
  );
}

const SHOWN_AT_FIRST = 200;

/** Entries with their metadata, as a table that scrolls sideways in a narrow window. */
export function EntryTable({
  caption,
  entries,
  testId,
}: {
  caption: string;
  entries: InspectedEntry[];
  testId?: string;
}) {
  const [all, setAll] = useState(false);
  const shown = all ? entries : entries.slice(0, SHOWN_AT_FIRST);
  return (
    <div className="table-scroll">
      <table data-testid={testId}>
        <caption>{caption}</caption>
        {entries.length > 0 && (
          <thead>
            <tr>
              <th scope="col">Entry id</th>
              <th scope="col">Category</th>
              <th scope="col">Reason</th>
              <th scope="col">Tip-offs</th>
              <th scope="col">Named as</th>
            </tr>
          </thead>
        )}
        <tbody>
          {entries.length === 0 && (
            <tr>
              <td colSpan={5} className="muted">
                none
              </td>
            </tr>
          )}
          {shown.map((entry) => (
            <tr key={entry.id}>
              <td>
                <Mono>{entry.id}</Mono>
              </td>
              <td>{entry.metadata?.category ?? '—'}</td>
              <td>{entry.metadata?.reason ?? '—'}</td>
              <td>{entry.metadata?.tips?.join(', ') || '—'}</td>
              <td>{FORMS[entry.metadata?.form ?? ''] ?? '—'}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {!all && entries.length > SHOWN_AT_FIRST && (
        <button type="button" onClick={() => setAll(true)}>
          Show all {entries.length}
        </button>
      )}
    </div>
  );
}

const FORMS: Record<string, string> = {
  cid: 'CID',
  'entry-id': 'entry id',
  ipip383: 'IPIP-383 double hash',
  'ipip383-legacy': 'IPIP-383 legacy hash',
};
