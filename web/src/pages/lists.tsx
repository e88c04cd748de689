import { type FormEvent, useId, useState } from 'react';
import { type Address, getAddress, isAddress } from 'viem';
import { getListInfo } from '../../../src/chain/lists.js';
import { getServers } from '../../../src/chain/registry.js';
import { ErrorNotice, Loading, Mono } from '../components.js';
import { useDao } from '../dao.js';
import { href } from '../router.js';
import { useAsync } from '../use-async.js';

/** The lists this DAO knows of: its own, those its rating servers enforce, and the lists they fork. */
export function ListsPage() {
  const { client, deployment, revision } = useDao();
  const lists = useAsync(
    async (signal) => {
      const known = new Map<string, { list: Address; why: string[] }>();
      const add = (list: Address, why: string) => {
        const entry = known.get(list.toLowerCase()) ?? { list, why: [] };
        if (!entry.why.includes(why)) entry.why.push(why);
        known.set(list.toLowerCase(), entry);
      };
      add(deployment.contracts.IllegalDataList, 'this DAO’s list');
      const servers = await getServers(client, { registry: deployment.contracts.RatingServerRegistry, signal });
      for (const server of servers) add(server.list, `enforced by rating server ${server.serverId}`);
      const infos = [];
      // Walk up the lineage of each list, so parents of forks show too.
      const seen = new Set<string>();
      const queue = [...known.values()].map((entry) => entry.list);
      while (queue.length > 0 && seen.size < 50) {
        const list = queue.shift() as Address;
        if (seen.has(list.toLowerCase())) continue;
        seen.add(list.toLowerCase());
        const info = await getListInfo(client, { list });
        infos.push(info);
        if (info.parent) {
          add(info.parent.list, `parent of ${list}`);
          queue.push(info.parent.list);
        }
      }
      return infos.map((info) => ({ info, why: known.get(info.list.toLowerCase())?.why ?? [] }));
    },
    [client, deployment, revision],
  );
  return (
    <>
      <h1>Lists</h1>
      <p>
        An illegal-data list is a contract: each version is a Merkle root and the CID of a payload on IPFS that holds
        its entries. Token holders change it by vote.
      </p>
      <OpenList />
      {lists.error !== undefined && <ErrorNotice error={lists.error} retry={lists.reload} />}
      {!lists.data && !lists.error && <Loading>Reading lists…</Loading>}
      <ul className="plain stack">
        {lists.data?.map(({ info, why }) => (
          <li key={info.list} className="card">
            <h2 className="h3">
              <a href={href('lists', info.list)}>
                <Mono>{info.list}</Mono>
              </a>
            </h2>
            <p className="small muted">{why.join('; ')}</p>
            <p>
              {info.currentVersion === 0n ? 'No version published yet.' : `At version ${info.currentVersion}.`}{' '}
              {info.parent && (
                <>
                  A fork of{' '}
                  <a href={href('lists', info.parent.list)}>
                    <Mono>{info.parent.list}</Mono>
                  </a>{' '}
                  at version {String(info.parent.version)}.
                </>
              )}
            </p>
          </li>
        ))}
      </ul>
    </>
  );
}

function OpenList() {
  const [text, setText] = useState('');
  const [invalid, setInvalid] = useState(false);
  const id = useId();
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (!isAddress(text.trim())) {
      setInvalid(true);
      return;
    }
    setInvalid(false);
    window.location.hash = href('lists', getAddress(text.trim()));
  };
  return (
    <form onSubmit={submit} noValidate className="card">
      <label htmlFor={id}>Open another list by its address</label>
      <div className="row">
        <input
          id={id}
          className="mono"
          value={text}
          onChange={(event) => setText(event.target.value)}
          placeholder="0x…"
          spellCheck={false}
          aria-invalid={invalid}
        />
        <button type="submit">Open</button>
      </div>
      {invalid && (
        <p className="field-error" role="alert">
          Enter a contract address: 0x followed by 40 hex digits.
        </p>
      )}
    </form>
  );
}
