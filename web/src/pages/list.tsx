import { type FormEvent, useId, useState } from 'react';
import { type Address, getAddress, isAddress } from 'viem';
import { getListInfo, getListVersion, type ListVersion } from '../../../src/chain/lists.js';
import { type CheckListedReturnType, checkListed, entryCandidates } from '../../../src/lists/check.js';
import { entryIdToHex } from '../../../src/lists/entry-id.js';
import { fetchVerifiedVersion } from '../blocks.js';
import { ErrorNotice, Facts, Loading, Mono } from '../components.js';
import { useDao } from '../dao.js';
import { PayloadUnreachableError } from '../errors.js';
import { formatDate } from '../format.js';
import { EntryTable } from '../list-change-review.js';
import { href } from '../router.js';
import { useAsync } from '../use-async.js';
import { PolicyDocument } from './servers.js';

/** Versions shown at first, newest first; older ones on request. */
const PAGE = 20;

export function ListPage({ address }: { address: string }) {
  if (!isAddress(address)) {
    return (
      <>
        <h1>List</h1>
        <p role="alert" className="notice notice-error">
          “{address}” is not a contract address.
        </p>
      </>
    );
  }
  return <ListDetails list={getAddress(address)} />;
}

function ListDetails({ list }: { list: Address }) {
  const { client, deployment, revision } = useDao();
  const info = useAsync(async () => {
    const own = await getListInfo(client, { list });
    // The lineage: each parent the list forks, up to an original list.
    const lineage: { list: Address; version: bigint }[] = [];
    for (let parent = own.parent; parent && lineage.length < 20; ) {
      lineage.push(parent);
      parent = (await getListInfo(client, { list: parent.list })).parent;
    }
    return { ...own, lineage };
  }, [client, list, revision]);

  if (!info.data) {
    return (
      <>
        <h1>List</h1>
        {info.error ? <ErrorNotice error={info.error} retry={info.reload} /> : <Loading />}
      </>
    );
  }
  const { policyCid, executor, currentVersion, lineage } = info.data;
  return (
    <>
      <h1>
        List <Mono>{list}</Mono>
      </h1>
      {list === deployment.contracts.IllegalDataList && <p className="muted">This DAO’s list.</p>}
      <section className="card" aria-labelledby="about-heading">
        <h2 id="about-heading">About</h2>
        <Facts
          items={[
            [
              'Current version',
              <span key="v" data-testid="current-version">
                {String(currentVersion)}
              </span>,
            ],
            [
              'Governed by',
              <span key="e">
                <Mono>{executor}</Mono>
                {executor === deployment.contracts.TimelockController ? ' (this DAO’s timelock)' : ' (a timelock)'}
              </span>,
            ],
            ['Policy', <Mono key="p">{policyCid}</Mono>],
            [
              'Lineage',
              lineage.length === 0 ? (
                'an original list, not a fork'
              ) : (
                <ol key="l" className="lineage">
                  {lineage.map((parent) => (
                    <li key={parent.list}>
                      fork of{' '}
                      <a href={href('lists', parent.list)}>
                        <Mono>{parent.list}</Mono>
                      </a>{' '}
                      at version {String(parent.version)}
                    </li>
                  ))}
                </ol>
              ),
            ],
          ]}
        />
        <PolicyDocument cid={policyCid} />
      </section>
      <CheckEntry list={list} currentVersion={currentVersion} />
      <Versions list={list} currentVersion={currentVersion} />
      {executor === deployment.contracts.TimelockController && (
        <p>
          <a className="button primary" href={`${href('propose')}?list=${list}`}>
            Propose a change to this list
          </a>
        </p>
      )}
    </>
  );
}

function Versions({ list, currentVersion }: { list: Address; currentVersion: bigint }) {
  const { client } = useDao();
  const [shown, setShown] = useState(PAGE);
  const versions = useAsync(async () => {
    const numbers: bigint[] = [];
    for (let v = currentVersion; v >= 1n && numbers.length < shown; v--) numbers.push(v);
    return Promise.all(numbers.map((version) => getListVersion(client, { list, version })));
  }, [client, list, currentVersion, shown]);
  if (currentVersion === 0n) {
    return (
      <section className="card" aria-labelledby="versions-heading">
        <h2 id="versions-heading">Versions</h2>
        <p>No version published yet: nothing is listed.</p>
      </section>
    );
  }
  return (
    <section className="card" aria-labelledby="versions-heading">
      <h2 id="versions-heading">Versions</h2>
      {versions.error !== undefined && <ErrorNotice error={versions.error} retry={versions.reload} />}
      {!versions.data && !versions.error && <Loading />}
      {versions.data && (
        <div className="table-scroll">
          <table data-testid="versions">
            <caption className="sr-only">Versions, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Version</th>
                <th scope="col">Published</th>
                <th scope="col">Entries</th>
                <th scope="col">Change</th>
                <th scope="col">Payload</th>
                <th scope="col">
                  <span className="sr-only">Entries</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {versions.data.map((version) => (
                <VersionRow key={String(version.version)} list={list} version={version} />
              ))}
            </tbody>
          </table>
        </div>
      )}
      {currentVersion > BigInt(shown) && (
        <button type="button" onClick={() => setShown(shown + PAGE)}>
          Show older versions
        </button>
      )}
    </section>
  );
}

function VersionRow({ list, version }: { list: Address; version: ListVersion }) {
  const [open, setOpen] = useState(false);
  const first = version.version === 1n;
  return (
    <>
      <tr data-version={String(version.version)}>
        <th scope="row">{String(version.version)}</th>
        <td>{formatDate(version.publishedAt)}</td>
        <td data-testid="version-count">{version.count}</td>
        <td>
          +{version.added} −{version.removed}
          {first && version.removed > 0 ? ' from the parent' : ''}
        </td>
        <td>
          <Mono>{version.payloadCid.toString()}</Mono>
        </td>
        <td>
          <button type="button" aria-expanded={open} onClick={() => setOpen(!open)}>
            {open ? 'Hide entries' : 'Show entries'}
            <span className="sr-only"> of version {String(version.version)}</span>
          </button>
        </td>
      </tr>
      {open && (
        <tr>
          <td colSpan={6}>
            <VersionEntries list={list} version={version.version} />
          </td>
        </tr>
      )}
    </>
  );
}

function VersionEntries({ list, version }: { list: Address; version: bigint }) {
  const { client } = useDao();
  const [progress, setProgress] = useState<[number, number]>();
  const entries = useAsync(
    async (signal) => {
      const { onChain, payload } = await fetchVerifiedVersion(client, {
        list,
        version,
        metadata: true,
        signal,
        onProgress: (done, total) => setProgress([done, total]),
      });
      const rows = Array.from({ length: payload.ids.length / 32 }, (_, i) => {
        const id = entryIdToHex(payload.ids.subarray(i * 32, i * 32 + 32));
        const metadata = payload.metadata?.get(id);
        return metadata ? { id, metadata } : { id };
      });
      return { onChain, rows };
    },
    [client, list, version],
  );
  if (entries.error) return <PayloadProblem error={entries.error} retry={entries.reload} />;
  if (!entries.data) {
    return (
      <Loading>Fetching and checking the payload{progress ? ` (block ${progress[0]} of ${progress[1]})` : ''}…</Loading>
    );
  }
  return (
    <div className="stack">
      <p className="notice notice-ok">
        <span aria-hidden="true">✓ </span>Checked in your browser: the payload’s {entries.data.rows.length} entries hash
        to the root on chain.
      </p>
      <EntryTable caption={`Entries of version ${version}`} entries={entries.data.rows} />
    </div>
  );
}

/** A payload that cannot be fetched, or that does not match the chain, each said as what it is. */
function PayloadProblem({ error, retry }: { error: unknown; retry: () => void }) {
  if (error instanceof PayloadUnreachableError) {
    return (
      <div role="alert" className="notice notice-warning" data-testid="payload-unreachable">
        <strong>The payload cannot be fetched.</strong> {error.message}{' '}
        <button type="button" onClick={retry}>
          Try again
        </button>
      </div>
    );
  }
  if (error instanceof Error && error.name.startsWith('Payload')) {
    return (
      <div role="alert" className="notice notice-danger" data-testid="payload-mismatch">
        <strong>The payload does not match the chain.</strong> {error.name}: {error.message}
      </div>
    );
  }
  return <ErrorNotice error={error} retry={retry} />;
}

/** Whether content is listed, answered from the payload and proved on chain with the entry's Merkle proof. */
function CheckEntry({ list, currentVersion }: { list: Address; currentVersion: bigint }) {
  const { client } = useDao();
  const inputId = useId();
  const [text, setText] = useState('');
  const [state, setState] = useState<
    | { phase: 'idle' }
    | { phase: 'invalid'; message: string }
    | { phase: 'checking' }
    | { phase: 'done'; result: CheckListedReturnType; item: string }
    | { phase: 'failed'; error: unknown }
  >({ phase: 'idle' });

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const item = text.trim();
    try {
      entryCandidates(item);
    } catch {
      setState({
        phase: 'invalid',
        message: 'Enter a CID (such as bafy… or Qm…) or an entry id (0x and 64 hex digits).',
      });
      return;
    }
    if (currentVersion === 0n) {
      setState({ phase: 'done', item, result: { listed: false, version: 0n } });
      return;
    }
    setState({ phase: 'checking' });
    try {
      const { payload } = await fetchVerifiedVersion(client, { list, version: currentVersion });
      const result = await checkListed(client, { list, version: currentVersion, payload, item });
      setState({ phase: 'done', result, item });
    } catch (error) {
      setState({ phase: 'failed', error });
    }
  };

  return (
    <section className="card" aria-labelledby="check-heading">
      <h2 id="check-heading">Is it listed?</h2>
      <form onSubmit={(event) => void submit(event)} noValidate>
        <label htmlFor={inputId}>CID or entry id</label>
        <div className="row">
          <input
            id={inputId}
            className="mono"
            value={text}
            onChange={(event) => setText(event.target.value)}
            spellCheck={false}
            autoComplete="off"
            aria-invalid={state.phase === 'invalid'}
          />
          <button type="submit" disabled={state.phase === 'checking'}>
            Check
          </button>
        </div>
      </form>
      <div role="status" data-testid="check-result">
        {state.phase === 'invalid' && <p className="field-error">{state.message}</p>}
        {state.phase === 'checking' && <Loading>Fetching the current version and proving on chain…</Loading>}
        {state.phase === 'done' && <CheckResult result={state.result} />}
      </div>
      {state.phase === 'failed' &&
        (state.error instanceof Error &&
        (state.error.name.startsWith('Payload') || state.error instanceof PayloadUnreachableError) ? (
          <PayloadProblem error={state.error} retry={() => undefined} />
        ) : (
          <ErrorNotice error={state.error} />
        ))}
    </section>
  );
}

function CheckResult({ result }: { result: CheckListedReturnType }) {
  if (result.version === 0n) return <p>Not listed: the list has published no version yet.</p>;
  if (!result.listed) {
    return (
      <p className="notice notice-ok">
        <strong>Not listed</strong> in version {String(result.version)}.
      </p>
    );
  }
  return (
    <div className={result.provedOnChain ? 'notice notice-info' : 'notice notice-danger'}>
      <p>
        <strong>Listed</strong> in version {String(result.version)}, as {result.form} <Mono>{result.entryId}</Mono>.
      </p>
      <p>
        {result.provedOnChain
          ? `The list contract confirms it: its Merkle proof (${result.proof.length} ${result.proof.length === 1 ? 'hash' : 'hashes'}) verifies on chain (IllegalDataList.isListedAt).`
          : 'Warning: the list contract rejected the Merkle proof. The payload and the chain disagree.'}
      </p>
    </div>
  );
}
