import type { AbortOptions } from '@libp2p/interface';
import { KEEP_ALIVE } from '@libp2p/interface';
import { logger } from '@libp2p/logger';
import { peerIdFromString } from '@libp2p/peer-id';
import type { Address } from 'viem';
import { type ActiveServerAddressesReturnType, activeServerAddresses } from '../chain/server-addresses.js';
import type { ReadClient } from '../chain/transactions.js';
import type { NrpHelia } from '../ipfs/helia.js';

const log = logger('nrp:server:list-peers');

/** How long a start waits to connect to another server of the list. */
const DIAL_TIMEOUT_MS = 5_000;

export interface ConnectListPeersInit {
  registry: Address;
  /** Only the servers of this list, e.g. the one this server enforces (the ones that pin its versions). Default: all. */
  list?: Address;
}

/**
 * Connects to the other rating servers the registry has active for the same list, by their registered addresses,
 * and keeps them connected (libp2p's keep-alive tag: dialled again when a connection drops). They pin every
 * version of the list, so a server that joins a list others already enforce fetches its payloads from them,
 * with no `bootstrap` to configure. Resolves with how many it reached; never throws, since a registry that
 * cannot be read or a server that does not answer only means fewer sources.
 *
 * @example
 * await connectListPeers(helia, client, { registry, list });
 */
export async function connectListPeers(
  helia: NrpHelia,
  client: ReadClient,
  init: ConnectListPeersInit,
  options: AbortOptions = {},
): Promise<number> {
  let servers: ActiveServerAddressesReturnType;
  try {
    servers = await activeServerAddresses(client, { ...init, signal: options.signal });
  } catch (error) {
    log('could not read the registry: %s', (error as Error).message);
    return 0;
  }
  const self = helia.libp2p.peerId.toString();
  const peers = servers.filter((server) => server.peerId !== self);
  const reached = await Promise.allSettled(
    peers.map(async ({ peerId, addresses }) => {
      const id = peerIdFromString(peerId);
      await helia.libp2p.peerStore.merge(id, { multiaddrs: addresses, tags: { [KEEP_ALIVE]: {} } });
      const timeout = AbortSignal.timeout(DIAL_TIMEOUT_MS);
      await helia.libp2p.dial(addresses, {
        signal: options.signal ? AbortSignal.any([options.signal, timeout]) : timeout,
      });
    }),
  );
  const count = reached.filter((result) => result.status === 'fulfilled').length;
  log('connected to %d of %d other servers of list %s', count, peers.length, init.list ?? '(any)');
  return count;
}
