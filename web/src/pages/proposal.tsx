import { type FormEvent, type ReactNode, useId, useState } from 'react';
import type { Hex } from 'viem';
import { decodeDaoCall } from '../../../src/chain/decode-call.js';
import {
  castVote,
  executeProposal,
  getProposal,
  getVotingPower,
  hasVoted,
  type Proposal,
  queueProposal,
  VOTE_SUPPORTS,
  type VoteSupport,
} from '../../../src/chain/governance.js';
import { decodePublishVersion } from '../../../src/chain/lists.js';
import { ErrorNotice, Facts, Loading, Mono, StateBadge } from '../components.js';
import { useDao } from '../dao.js';
import { formatDate, formatTokens, percent, relativeTime } from '../format.js';
import { ListChangeReview } from '../list-change-review.js';
import { ServerStatusReview } from '../server-status-review.js';
import { TxProgress, useTransaction } from '../tx.js';
import { useAsync } from '../use-async.js';
import { useWallet } from '../wallet.js';

export function ProposalPage({ id }: { id: string }) {
  const { client, deployment, revision } = useDao();
  const valid = /^\d+$/.test(id);
  const proposal = useAsync(
    async (signal) => {
      if (!valid) throw new Error(`“${id}” is not a proposal id: proposal ids are whole numbers.`);
      return getProposal(client, {
        governor: deployment.contracts.RatingGovernor,
        proposalId: BigInt(id),
        fromBlock: BigInt(deployment.fromBlock),
        signal,
      });
    },
    [client, deployment, id, revision],
  );
  if (!proposal.data) {
    return (
      <>
        <h1>Proposal</h1>
        {proposal.error ? (
          <ErrorNotice error={proposal.error} retry={proposal.reload} />
        ) : (
          <Loading>Reading the proposal…</Loading>
        )}
      </>
    );
  }
  const p = proposal.data;
  const [title, ...rest] = p.description.split('\n');
  return (
    <>
      <div className="title-row">
        <h1>{title || 'Proposal'}</h1>
        <StateBadge state={p.state} />
      </div>
      {proposal.error !== undefined && (
        <ErrorNotice error={proposal.error} retry={proposal.reload} what="Not up to date:" />
      )}
      <p className="small muted">
        Proposal <Mono>{String(p.proposalId)}</Mono>
      </p>
      <div className="columns">
        <div className="stack">
          <Tallies proposal={p} />
          <Timeline proposal={p} />
        </div>
        <div className="stack">
          <Actions proposal={p} />
          <LocalClock proposal={p} />
        </div>
      </div>
      {rest.join('\n').trim() !== '' && (
        <section aria-labelledby="description-heading" className="card">
          <h2 id="description-heading">Description</h2>
          <p className="description">{rest.join('\n').trim()}</p>
        </section>
      )}
      <section aria-labelledby="calls-heading">
        <h2 id="calls-heading">What it does when executed</h2>
        <p className="muted">
          {p.targets.length === 1 ? 'One call' : `${p.targets.length} calls`}, made by the timelock. Check each before
          you vote: the app decodes them and checks list payloads here, in your browser.
        </p>
        {p.targets.map((target, index) => (
          <CallReview
            // biome-ignore lint/suspicious/noArrayIndexKey: a proposal's calls never change.
            key={index}
            index={index}
            target={target}
            calldata={p.calldatas[index] as Hex}
            value={p.values[index]}
            proposal={p}
          />
        ))}
      </section>
    </>
  );
}

function Tallies({ proposal }: { proposal: Proposal }) {
  const { for: yes, against, abstain } = proposal.votes;
  const cast = yes + against + abstain;
  const counted = yes + abstain;
  const rows: [string, bigint, string][] = [
    ['For', yes, 'for'],
    ['Against', against, 'against'],
    ['Abstain', abstain, 'abstain'],
  ];
  return (
    <section aria-labelledby="tally-heading" className="card">
      <h2 id="tally-heading">Votes</h2>
      <ul className="tally" data-testid="tally">
        {rows.map(([label, votes, kind]) => (
          <li key={kind}>
            <div className="tally-label">
              <span>{label}</span>
              <span data-testid={`votes-${kind}`}>
                {formatTokens(votes)} ({percent(votes, cast)})
              </span>
            </div>
            <div className="bar" aria-hidden="true">
              <div className={`bar-fill bar-${kind}`} style={{ width: percent(votes, cast) }} />
            </div>
          </li>
        ))}
      </ul>
      {proposal.quorum === null ? (
        <p className="muted small">The quorum is fixed once voting opens.</p>
      ) : (
        <div className="quorum">
          <label htmlFor={`quorum-${proposal.proposalId}`}>
            Quorum: {formatTokens(counted)} of {formatTokens(proposal.quorum)} votes (for and abstain count)
            {counted >= proposal.quorum ? ' — reached' : ''}
          </label>
          <progress
            id={`quorum-${proposal.proposalId}`}
            value={Math.min(Number(counted), Number(proposal.quorum))}
            max={Number(proposal.quorum === 0n ? 1n : proposal.quorum)}
          />
        </div>
      )}
    </section>
  );
}

function Timeline({ proposal }: { proposal: Proposal }) {
  const { now } = useDao();
  const at = (seconds: bigint) => `${formatDate(seconds)} (${relativeTime(seconds, now)})`;
  return (
    <section aria-labelledby="timeline-heading" className="card">
      <h2 id="timeline-heading">Timeline</h2>
      <Facts
        items={[
          ['Proposed by', <Mono key="p">{proposal.proposer}</Mono>],
          ['Proposed in block', String(proposal.created.blockNumber)],
          ['Voting power counted at', at(proposal.voteStart)],
          [
            proposal.state === 'active' || proposal.state === 'pending' ? 'Voting ends' : 'Voting ended',
            at(proposal.deadline),
          ],
          [
            'Timelock: executable from',
            proposal.eta === null ? (
              <span key="e" className="muted">
                not queued
              </span>
            ) : (
              <span key="e" data-testid="eta">
                {at(proposal.eta)}
              </span>
            ),
          ],
        ]}
      />
    </section>
  );
}

function Actions({ proposal }: { proposal: Proposal }) {
  const { wallet } = useWallet();
  const { now } = useDao();
  if (proposal.state === 'pending') {
    return (
      <section className="card" aria-label="Voting">
        <p>
          {now !== undefined && now >= proposal.voteStart
            ? 'Voting opens with the next block.'
            : `Voting opens ${relativeTime(proposal.voteStart, now)}.`}{' '}
          Voting power is counted as it was when the proposal was made.
        </p>
      </section>
    );
  }
  if (!['active', 'succeeded', 'queued'].includes(proposal.state)) {
    return (
      <section className="card" aria-label="Outcome">
        <p>{OUTCOMES[proposal.state] ?? ''}</p>
      </section>
    );
  }
  if (!wallet) {
    return (
      <section className="card" aria-label="Voting">
        <p>
          Connect a wallet (the button at the top) to{' '}
          {proposal.state === 'active' ? 'vote' : proposal.state === 'succeeded' ? 'queue it' : 'execute it'}.
        </p>
      </section>
    );
  }
  if (proposal.state === 'active') return <VoteForm proposal={proposal} />;
  if (proposal.state === 'succeeded') return <QueueButton proposal={proposal} />;
  return <ExecuteButton proposal={proposal} />;
}

const OUTCOMES: Partial<Record<Proposal['state'], string>> = {
  executed: 'This proposal passed and was executed: its calls are in effect.',
  defeated: 'This proposal was defeated: too few votes for it, or no quorum.',
  canceled: 'This proposal was canceled.',
  expired: 'This proposal passed but was not executed in time.',
};

function VoteForm({ proposal }: { proposal: Proposal }) {
  const { client, deployment, now, revision } = useDao();
  const { wallet } = useWallet();
  const tx = useTransaction();
  const [support, setSupport] = useState<VoteSupport>();
  const [reason, setReason] = useState('');
  const [missing, setMissing] = useState(false);
  const reasonId = useId();
  const governor = deployment.contracts.RatingGovernor;
  const account = wallet?.address;
  const mine = useAsync(async () => {
    if (!account) return undefined;
    const [voted, power] = await Promise.all([
      hasVoted(client, { governor, proposalId: proposal.proposalId, account }),
      now !== undefined && proposal.voteStart < now
        ? getVotingPower(client, { token: deployment.contracts.RatingToken, account, timepoint: proposal.voteStart })
        : getVotingPower(client, { token: deployment.contracts.RatingToken, account }),
    ]);
    return { voted, power };
  }, [client, governor, account, proposal.proposalId, revision]);

  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (!support) {
      setMissing(true);
      return;
    }
    setMissing(false);
    void tx.run(
      `Vote ${support}`,
      ({ client: signer, options }) =>
        castVote(
          signer,
          { governor, proposalId: proposal.proposalId, support, reason: reason.trim() || undefined },
          options,
        ),
      (result) => `Counted with ${formatTokens(result.weight)} votes.`,
    );
  };

  return (
    <section aria-labelledby="vote-heading" className="card">
      <h2 id="vote-heading">Your vote</h2>
      {mine.error !== undefined && <ErrorNotice error={mine.error} retry={mine.reload} />}
      {mine.data?.voted ? (
        <p data-testid="already-voted">You have voted on this proposal.</p>
      ) : (
        <form onSubmit={submit}>
          {mine.data && (
            <p className="small">
              Your voting power for this proposal: <strong>{formatTokens(mine.data.power)} votes</strong>
              {mine.data.power === 0n &&
                ' — you held no votes when it was proposed, so your vote would not count. Tokens received or delegated later count for later proposals.'}
            </p>
          )}
          <fieldset aria-describedby={missing ? `${reasonId}-missing` : undefined}>
            <legend>Your choice</legend>
            <div className="choices">
              {VOTE_SUPPORTS.slice()
                .sort((a, b) => ORDER.indexOf(a) - ORDER.indexOf(b))
                .map((choice) => (
                  <label key={choice} className="choice">
                    <input
                      type="radio"
                      name="support"
                      value={choice}
                      checked={support === choice}
                      onChange={() => setSupport(choice)}
                    />{' '}
                    {choice[0].toUpperCase() + choice.slice(1)}
                  </label>
                ))}
            </div>
          </fieldset>
          {missing && (
            <p id={`${reasonId}-missing`} className="field-error" role="alert">
              Choose for, against or abstain.
            </p>
          )}
          <label htmlFor={reasonId}>Reason (optional, recorded on chain with your vote)</label>
          <textarea id={reasonId} rows={2} value={reason} onChange={(event) => setReason(event.target.value)} />
          <button type="submit" className="primary" disabled={tx.busy}>
            Cast vote
          </button>
        </form>
      )}
      <TxProgress state={tx.state} />
    </section>
  );
}

const ORDER: VoteSupport[] = ['for', 'against', 'abstain'];

function QueueButton({ proposal }: { proposal: Proposal }) {
  const { deployment } = useDao();
  const tx = useTransaction();
  return (
    <section aria-labelledby="queue-heading" className="card">
      <h2 id="queue-heading">Passed: queue it</h2>
      <p>
        The vote passed. Queue it in the timelock; after the timelock delay anyone may execute it. Anyone may queue it
        too.
      </p>
      <button
        type="button"
        className="primary"
        disabled={tx.busy}
        onClick={() =>
          void tx.run(
            'Queue',
            ({ client, options }) =>
              queueProposal(
                client,
                { governor: deployment.contracts.RatingGovernor, proposalId: proposal.proposalId, actions: proposal },
                options,
              ),
            (result) => `Executable from ${formatDate(result.eta)}.`,
          )
        }
      >
        Queue in the timelock
      </button>
      <TxProgress state={tx.state} />
    </section>
  );
}

function ExecuteButton({ proposal }: { proposal: Proposal }) {
  const { deployment, now } = useDao();
  const tx = useTransaction();
  const ready = proposal.eta !== null && now !== undefined && now >= proposal.eta;
  return (
    <section aria-labelledby="execute-heading" className="card">
      <h2 id="execute-heading">Queued: execute it</h2>
      {proposal.eta !== null && (
        <p>
          {ready
            ? 'The timelock delay is over: anyone may execute it now.'
            : `The timelock holds it until ${formatDate(proposal.eta)} (${relativeTime(proposal.eta, now)}).`}
        </p>
      )}
      <button
        type="button"
        className="primary"
        disabled={tx.busy || !ready}
        onClick={() =>
          void tx.run(
            'Execute',
            ({ client, options }) =>
              executeProposal(
                client,
                { governor: deployment.contracts.RatingGovernor, proposalId: proposal.proposalId, actions: proposal },
                options,
              ),
            () => 'Its calls are in effect.',
          )
        }
      >
        Execute
      </button>
      <TxProgress state={tx.state} />
    </section>
  );
}

/** On the local chain only: move the clock past the voting period or the timelock delay, as `nrp dev advance` does. */
function LocalClock({ proposal }: { proposal: Proposal }) {
  const { client, isLocalChain, now, refresh } = useDao();
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  if (!isLocalChain || now === undefined) return null;
  let target: bigint | undefined;
  let what = '';
  if (proposal.state === 'pending') [target, what] = [proposal.voteStart + 1n, 'the start of voting'];
  else if (proposal.state === 'active') [target, what] = [proposal.deadline + 1n, 'the end of voting'];
  else if (proposal.state === 'queued' && proposal.eta !== null && now < proposal.eta) {
    [target, what] = [proposal.eta, 'the end of the timelock delay'];
  }
  if (target === undefined || target <= now) return null;
  const seconds = Number(target - now);
  const advance = async () => {
    setBusy(true);
    setError(undefined);
    try {
      // Hardhat's development methods, which nrp web forwards on the local chain only.
      const request = client.request as (args: { method: string; params: unknown[] }) => Promise<unknown>;
      await request({ method: 'evm_increaseTime', params: [seconds] });
      await request({ method: 'evm_mine', params: [] });
      refresh();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <section aria-labelledby="clock-heading" className="card dev-tools">
      <h2 id="clock-heading" className="h4">
        Local chain only: skip ahead
      </h2>
      <p className="small">Moves the development chain’s clock, as `nrp dev advance` does. No real chain has this.</p>
      <button type="button" onClick={() => void advance()} disabled={busy}>
        Skip to {what} (+{seconds} s)
      </button>
      {error !== undefined && <ErrorNotice error={error} />}
    </section>
  );
}

function CallReview({
  index,
  target,
  calldata,
  value,
  proposal,
}: {
  index: number;
  target: `0x${string}`;
  calldata: Hex;
  value: bigint;
  proposal: Proposal;
}) {
  const decoded = decodeDaoCall(calldata);
  let body: ReactNode;
  if (!decoded) {
    body = (
      <div role="alert" className="notice notice-error">
        <strong>This call is not one this app knows</strong> (selector <Mono>{calldata.slice(0, 10)}</Mono>). Do not
        vote for it unless you have checked it by other means.
      </div>
    );
  } else if (decoded.functionName === 'publishVersion') {
    let call: ReturnType<typeof decodePublishVersion> | undefined;
    try {
      call = decodePublishVersion(calldata);
    } catch {
      call = undefined;
    }
    body = call ? (
      <ListChangeReview list={target} call={call} calldata={calldata} proposalState={proposal.state} />
    ) : (
      <div role="alert" className="notice notice-error">
        <strong>Do not vote for this proposal as it stands.</strong> It publishes a list version whose payload CID is
        not a CID, so nobody can check its entries.
      </div>
    );
  } else if (['activate', 'suspend', 'remove'].includes(decoded.functionName)) {
    body = (
      <ServerStatusReview
        registry={target}
        serverId={decoded.args[0] as bigint}
        change={decoded.functionName as 'activate' | 'suspend' | 'remove'}
      />
    );
  } else {
    body = (
      <p>
        <code className="mono">
          {decoded.functionName}({decoded.args.map(String).join(', ')})
        </code>
      </p>
    );
  }
  return (
    <article className="card call" aria-labelledby={`call-${index}`}>
      <h3 id={`call-${index}`}>
        Call {index + 1}: {decoded ? `${decoded.contract}.${decoded.functionName}` : 'unknown'}
      </h3>
      <p className="small muted">
        To <Mono>{target}</Mono>
        {value > 0n ? `, sending ${formatTokens(value)} ETH from the timelock` : ''}
      </p>
      {body}
    </article>
  );
}
