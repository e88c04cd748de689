import { CODE_P2P, type Multiaddr, multiaddr } from '@multiformats/multiaddr';

/** An address that is not a multiaddr, or that names another peer than the one it is meant to reach. */
export class PeerAddressError extends Error {
  override name = 'PeerAddressError';
}

/**
 * `address` pinned to `peerId`: with `/p2p/<peerId>` appended, so noise checks on connecting that the peer is the
 * one meant; unchanged if it names that peer already, or if no peer id is known. Throws {@link PeerAddressError}
 * for what is not a multiaddr or names another peer.
 *
 * @example
 * pinnedToPeer('/ip4/192.0.2.1/tcp/4100', '12D3KooW…'); // /ip4/192.0.2.1/tcp/4100/p2p/12D3KooW…
 */
export function pinnedToPeer(address: string, peerId: string | undefined): Multiaddr {
  let addr: Multiaddr;
  try {
    addr = multiaddr(address);
  } catch (error) {
    throw new PeerAddressError(`${address} is not a multiaddr`, { cause: error });
  }
  if (peerId === undefined) return addr;
  const p2p = addr.getComponents().find((component) => component.code === CODE_P2P);
  if (!p2p) return addr.encapsulate(`/p2p/${peerId}`);
  if (p2p.value !== peerId) throw new PeerAddressError(`${address} is the address of another peer than ${peerId}`);
  return addr;
}
