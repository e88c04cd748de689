import type { Multiaddr } from '@multiformats/multiaddr';
import type { Address } from 'viem';
import { pinnedToPeer } from '../ipfs/peer-address.js';
import { peerIdToString } from '../node/protocol/peer.js';
import { getServers } from './registry.js';
import type { ReadClient } from './transactions.js';

export interface ActiveServerAddressesParameters {
  registry: Address;
  /** Only servers of this list. Default: every active server. */
  list?: Address;
  signal?: AbortSignal;
}

export type ActiveServerAddressesReturnType = { peerId: string; addresses: Multiaddr[] }[];

/**
 * Where the rating servers active in the registry answer: each server's registered addresses, pinned to its peer
 * id so that noise checks it on connecting. Addresses that are not multiaddrs, or name another peer, are left out
 * (a registration's mistake is its operator's to fix), and so are servers left with none.
 *
 * @example
 * const servers = await activeServerAddresses(publicClient, { registry, list });
 * await Promise.allSettled(servers.map(({ addresses }) => libp2p.dial(addresses)));
 */
export async function activeServerAddresses(
  client: ReadClient,
  { registry, list, signal }: ActiveServerAddressesParameters,
): Promise<ActiveServerAddressesReturnType> {
  const servers = await getServers(client, { registry, status: 'active', signal });
  return servers.flatMap((server) => {
    if (list && server.list.toLowerCase() !== list.toLowerCase()) return [];
    const peerId = peerIdToString(server.peerId);
    const addresses = server.multiaddrs.flatMap((address) => {
      try {
        return [pinnedToPeer(address, peerId)];
      } catch {
        return [];
      }
    });
    return addresses.length > 0 ? [{ peerId, addresses }] : [];
  });
}
