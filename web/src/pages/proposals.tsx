import { useId } from 'react';
import { listProposals, PROPOSAL_STATES, type Proposal } from '../../../src/chain/governance.js';
import { ErrorNotice, Loading, StateBadge } from '../components.js';
import { useDao } from '../dao.js';
import { formatDate, formatTokens, relativeTime } from '../format.js';
import { href } from '../router.js';
import { useAsync } from '../use-async.js';

/** Every proposal of the Governor, newest first, optionally of one state. */
export function ProposalsPage({ state }: { state?: string }) {
  const { client, deployment, revision } = useDao();
  const filterId = useId();
  const proposals = useAsync(
    (signal) =>
      listProposals(client, {
        governor: deployment.contracts.RatingGovernor,
        fromBlock: BigInt(deployment.fromBlock),
        signal,
      }),
    [client, deployment, revision],
  );
  const shown = (proposals.data ?? []).filter((p) => !state || p.state === state).reverse();
  return (
    <>
      <div className="title-row">
        <h1>Proposals</h1>
        <a className="button primary" href={href('propose')}>
          New list proposal
        </a>
      </div>
      <div className="row">
        <label htmlFor={filterId}>Show</label>
        <select
          className="inline"
          id={filterId}
          value={state ?? ''}
          onChange={(event) => {
            window.location.hash = event.target.value ? `#/proposals?state=${event.target.value}` : '#/proposals';
          }}
        >
          <option value="">every proposal</option>
          {PROPOSAL_STATES.map((s) => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </select>
      </div>
      {proposals.error !== undefined && <ErrorNotice error={proposals.error} retry={proposals.reload} />}
      {!proposals.data && !proposals.error && <Loading>Reading proposals from the chain…</Loading>}
      {proposals.data && shown.length === 0 && (
        <p>{state ? `No ${state} proposals.` : 'No proposals yet. Propose a list change to start.'}</p>
      )}
      {shown.length > 0 && (
        <ol className="proposal-list" reversed>
          {shown.map((proposal) => (
            <ProposalRow key={String(proposal.proposalId)} proposal={proposal} />
          ))}
        </ol>
      )}
    </>
  );
}

function ProposalRow({ proposal }: { proposal: Proposal }) {
  const { now } = useDao();
  const title = proposal.description.split('\n')[0] || '(no description)';
  const { for: yes, against, abstain } = proposal.votes;
  let when = '';
  if (proposal.state === 'active') when = `Voting ends ${relativeTime(proposal.deadline, now)}`;
  else if (proposal.state === 'pending') when = `Voting opens ${relativeTime(proposal.voteStart, now)}`;
  else if (proposal.state === 'queued' && proposal.eta !== null) {
    when =
      now !== undefined && now >= proposal.eta ? 'Ready to execute' : `Executable ${relativeTime(proposal.eta, now)}`;
  } else when = `Proposed in block ${proposal.created.blockNumber}`;
  return (
    <li className="card proposal-row" data-proposal-id={String(proposal.proposalId)}>
      <div className="proposal-row-head">
        <StateBadge state={proposal.state} />
        <a href={href('proposals', proposal.proposalId)} className="proposal-title">
          {title}
        </a>
      </div>
      <p className="small muted">
        For {formatTokens(yes)} · Against {formatTokens(against)} · Abstain {formatTokens(abstain)} · {when}
        {proposal.state === 'active' && <span className="sr-only"> ({formatDate(proposal.deadline)})</span>}
      </p>
    </li>
  );
}
