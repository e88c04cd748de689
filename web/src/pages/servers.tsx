import { base58btc } from 'multiformats/bases/base58';
import { type FormEvent, useId, useState } from 'react';
import { propose } from '../../../src/chain/governance.js';
import { getServers, type RatingServer, serverStatusCall } from '../../../src/chain/registry.js';
import { parseCid } from '../../../src/lists/entry-id.js';
import { fetchPolicyText } from '../blocks.js';
import { ErrorNotice, Facts, Loading, Mono } from '../components.js';
import { useDao } from '../dao.js';
import { formatDate } from '../format.js';
import { href } from '../router.js';
import { TxProgress, useTransaction } from '../tx.js';
import { useAsync } from '../use-async.js';
import { useWallet } from '../wallet.js';

/** Every rating server in the registry, with its status, policy and endpoints. */
export function ServersPage() {
  const { client, deployment, revision } = useDao();
  const servers = useAsync(
    (signal) => getServers(client, { registry: deployment.contracts.RatingServerRegistry, signal }),
    [client, deployment, revision],
  );
  return (
    <>
      <h1>Rating servers</h1>
      <p>
        Rating servers infer where listed data came from and publish signed ratings; nodes follow the servers that token
        holders activated. Anyone may apply (<code>nrp server register</code>); activation and suspension go by vote.
      </p>
      {servers.error !== undefined && <ErrorNotice error={servers.error} retry={servers.reload} />}
      {!servers.data && !servers.error && <Loading>Reading the registry…</Loading>}
      {servers.data?.length === 0 && <p>No rating server has applied yet.</p>}
      {servers.data?.map((server) => (
        <article
          key={String(server.serverId)}
          className="card"
          aria-labelledby={`server-${server.serverId}`}
          data-server-id={String(server.serverId)}
        >
          <div className="title-row">
            <h2 id={`server-${server.serverId}`}>Rating server {String(server.serverId)}</h2>
            <span className={`badge badge-server-${server.status}`}>{server.status}</span>
          </div>
          <ServerDetails server={server} />
          <ProposeStatusChange server={server} />
        </article>
      ))}
    </>
  );
}

/** A libp2p peer id as people see it: base58btc without a multibase prefix (12D3KooW…). */
export function peerIdText(peerId: Uint8Array): string {
  return base58btc.encode(peerId).slice(1);
}

export function ServerDetails({ server }: { server: RatingServer }) {
  return (
    <>
      <Facts
        items={[
          ['Status', server.status],
          ['Peer id', <Mono key="p">{peerIdText(server.peerId)}</Mono>],
          ['Operator', <Mono key="o">{server.operator}</Mono>],
          [
            'Enforces list',
            <a key="l" href={href('lists', server.list)}>
              <Mono>{server.list}</Mono>
            </a>,
          ],
          ['Registered', formatDate(server.registeredAt)],
          ['Last change', formatDate(server.updatedAt)],
          [
            'Endpoints',
            <ul key="e" className="plain">
              {server.multiaddrs.map((address) => (
                <li key={address}>
                  <Mono>{address}</Mono>
                </li>
              ))}
            </ul>,
          ],
          ['Policy', <Mono key="c">{server.policyCid}</Mono>],
        ]}
      />
      <PolicyDocument cid={server.policyCid} />
    </>
  );
}

/** A policy document, fetched on demand and checked against its CID in the browser. */
export function PolicyDocument({ cid }: { cid: string }) {
  const [open, setOpen] = useState(false);
  return (
    <details onToggle={(event) => setOpen((event.target as HTMLDetailsElement).open)}>
      <summary>Read the policy document</summary>
      {open && <PolicyText cid={cid} />}
    </details>
  );
}

function PolicyText({ cid }: { cid: string }) {
  const text = useAsync(
    async (signal) => {
      let parsed: ReturnType<typeof parseCid>;
      try {
        parsed = parseCid(cid);
      } catch {
        throw new Error(`The policy CID “${cid}” is not a CID.`);
      }
      return fetchPolicyText(parsed, { signal });
    },
    [cid],
  );
  if (text.error) return <ErrorNotice error={text.error} retry={text.reload} what="Cannot show the policy:" />;
  if (!text.data && text.loading) return <Loading>Fetching the policy…</Loading>;
  if (text.data === undefined) {
    return (
      <p className="muted">
        This policy is a multi-block file, which this app does not assemble; read it with an IPFS tool (
        <code>ipfs cat {cid}</code>).
      </p>
    );
  }
  return (
    <pre className="policy" data-testid="policy-text">
      {text.data}
    </pre>
  );
}

const CHANGES = {
  applied: { status: 'active', verb: 'Activate', what: 'activation' },
  suspended: { status: 'active', verb: 'Activate', what: 'activation' },
  active: { status: 'suspended', verb: 'Suspend', what: 'suspension' },
} as const;

/** A proposal to activate an applied or suspended server, or to suspend an active one. */
function ProposeStatusChange({ server }: { server: RatingServer }) {
  const { deployment } = useDao();
  const { wallet } = useWallet();
  const tx = useTransaction();
  const [open, setOpen] = useState(false);
  const [reason, setReason] = useState('');
  const reasonId = useId();
  const change = server.status in CHANGES ? CHANGES[server.status as keyof typeof CHANGES] : undefined;
  if (!change) return null;

  const submit = (event: FormEvent) => {
    event.preventDefault();
    const description = `${change.verb} rating server ${server.serverId}\n\n${reason.trim()}`.trim();
    void tx.run(
      `Proposal of ${change.what}`,
      ({ client, options }) =>
        propose(
          client,
          {
            governor: deployment.contracts.RatingGovernor,
            calls: [serverStatusCall(deployment.contracts.RatingServerRegistry, server.serverId, change.status)],
            description,
          },
          options,
        ),
      (result) => (
        <a href={href('proposals', result.proposalId)} data-testid="new-proposal-link">
          Open the proposal
        </a>
      ),
    );
  };

  if (!open) {
    return (
      <button type="button" onClick={() => setOpen(true)}>
        Propose {change.what}
      </button>
    );
  }
  return (
    <form onSubmit={submit} className="stack">
      <h3 className="h4">
        Propose to {change.verb.toLowerCase()} rating server {String(server.serverId)}
      </h3>
      <label htmlFor={reasonId}>Why (the proposal’s description, which voters read)</label>
      <textarea id={reasonId} rows={3} value={reason} onChange={(event) => setReason(event.target.value)} />
      <div className="row">
        <button type="submit" className="primary" disabled={tx.busy || !wallet}>
          Submit the proposal
        </button>
        <button type="button" onClick={() => setOpen(false)} disabled={tx.busy}>
          Cancel
        </button>
      </div>
      {!wallet && <p className="muted">Connect a wallet to make a proposal.</p>}
      <TxProgress state={tx.state} />
    </form>
  );
}
