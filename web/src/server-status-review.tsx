import type { Address } from 'viem';
import { getServer } from '../../src/chain/registry.js';
import { ErrorNotice, Loading } from './components.js';
import { useDao } from './dao.js';
import { ServerDetails } from './pages/servers.js';
import { useAsync } from './use-async.js';

const WORDS = {
  activate: 'Activates',
  suspend: 'Suspends',
  remove: 'Removes',
} as const;

/** A proposed change of a rating server's status, with the server as the registry has it now. */
export function ServerStatusReview({
  registry,
  serverId,
  change,
}: {
  registry: Address;
  serverId: bigint;
  change: keyof typeof WORDS;
}) {
  const { client, revision } = useDao();
  const server = useAsync(() => getServer(client, { registry, serverId }), [client, registry, serverId, revision]);
  return (
    <div className="stack">
      <p>
        <strong>
          {WORDS[change]} rating server {String(serverId)}
        </strong>
        {change === 'activate' && ': its verdicts then count for the nodes that follow it.'}
        {change === 'suspend' && ': its verdicts stop counting until a vote activates it again.'}
        {change === 'remove' && ': for good; its registration can never change again.'}
      </p>
      {server.data && <ServerDetails server={server.data} />}
      {!server.data && !server.error && <Loading />}
      {server.error !== undefined && <ErrorNotice error={server.error} retry={server.reload} />}
    </div>
  );
}
