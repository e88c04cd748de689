import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type BitswapOptions, withBitswap } from '@helia/bitswap';
import { type HeliaWithLibp2p, withLibp2pLight } from '@helia/libp2p';
import * as dagCbor from '@ipld/dag-cbor';
import { bootstrap } from '@libp2p/bootstrap';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { type Identify, type IdentifyPush, identify, identifyPush } from '@libp2p/identify';
import type { AbortOptions, PeerDiscovery, PeerId, PrivateKey, ServiceMap } from '@libp2p/interface';
import { KEEP_ALIVE } from '@libp2p/interface';
import { logger } from '@libp2p/logger';
import { type MulticastDNSComponents, mdns } from '@libp2p/mdns';
import { noise } from '@libp2p/noise';
import { type Ping, ping } from '@libp2p/ping';
import { tcp } from '@libp2p/tcp';
import { webSockets } from '@libp2p/websockets';
import { yamux } from '@libp2p/yamux';
import { CODE_P2P, multiaddr } from '@multiformats/multiaddr';
import { MemoryBlockstore } from 'blockstore-core';
import { FsBlockstore } from 'blockstore-fs';
import { FsDatastore } from 'datastore-fs';
import { createHeliaLight } from 'helia';
import type { Blockstore } from 'interface-blockstore';
import type { Datastore } from 'interface-datastore';
import type { Libp2pOptions } from 'libp2p';
import { loadOrCreatePrivateKey } from './keys.js';

const log = logger('nrp:ipfs');

/** Where a node listens unless told otherwise: loopback only, any free port. */
export const DEFAULT_LISTEN: readonly string[] = ['/ip4/127.0.0.1/tcp/0'];

/**
 * Source addresses libp2p's connection manager always lets in (`connectionManager.allow`): loopback. Its
 * defaults refuse a sixth connection a second from one address, and every one past `maxConnections`, which is
 * a defence on the internet but breaks a network of nodes on one machine (tests, the demo) as it starts.
 */
export const LOOPBACK_ALLOW: readonly string[] = ['/ip4/127.0.0.0/ipcidr/8', '/ip6/::1/ipcidr/128'];

/** The libp2p services every nrp Helia node runs. */
export type NrpDefaultServices = { identify: Identify; identifyPush: IdentifyPush; ping: Ping };

/** A started nrp Helia node: Helia with bitswap, on a libp2p host that runs the default services and `S`. */
export type NrpHelia<S extends ServiceMap = Record<never, never>> = HeliaWithLibp2p<NrpDefaultServices & S>;

/**
 * Extra libp2p options, merged into the node's defaults rather than replacing them: arrays (`transports`,
 * `connectionEncrypters`, `streamMuxers`, `peerDiscovery`, `peerRouters`, `contentRouters`) are appended after
 * the defaults, `services` are added to identify, identify-push and ping (a service of the same name replaces the default),
 * `addresses.listen` is appended to the `listen` option, `connectionManager.allow` is appended to
 * {@link LOOPBACK_ALLOW}, and everything else (`connectionGater`, the rest of `connectionManager`,
 * `connectionMonitor`, `peerStore`, …) is passed as is. The key and the datastore
 * always come from the node.
 */
export type NrpLibp2pOptions<S extends ServiceMap = Record<never, never>> = Omit<
  Libp2pOptions<S>,
  'privateKey' | 'datastore' | 'start'
>;

/** Options of {@link createNrpHelia}. */
export interface NrpHeliaInit<S extends ServiceMap = Record<never, never>> {
  /**
   * Folder that keeps the node's state across restarts: blocks in `<dataDir>/blocks` (blockstore-fs), pins, the
   * peer store and other records in `<dataDir>/datastore` (datastore-fs), and the libp2p private key in
   * `<dataDir>/peer.key` (mode 0600, see `loadOrCreatePrivateKey`). Created with mode 0700 if missing.
   * Without it, everything lives in memory and the node gets a fresh peer id: for tests and simulations.
   */
  dataDir?: string;
  /**
   * The node's libp2p key. Default: the one in `<dataDir>/peer.key`, or a fresh one in memory. A caller that
   * signs with the node's identity (adverts, reports) passes the key it loaded.
   */
  privateKey?: PrivateKey;
  /**
   * Multiaddrs to listen on. Default `['/ip4/127.0.0.1/tcp/0']`: loopback only, any free port. An address ending
   * in `/ws` (e.g. `/ip4/0.0.0.0/tcp/4002/ws`) listens for WebSockets, next to or instead of plain TCP.
   */
  listen?: readonly string[];
  /**
   * Multiaddrs of peers to dial at start, each ending in `/p2p/<peer id>`. Empty by default: the node dials
   * nobody by itself, and there are never any public bootstrappers.
   */
  bootstrap?: readonly string[];
  /** Discover and dial peers on the local network with multicast DNS. Default false. */
  mdns?: boolean;
  /**
   * Extra libp2p options, merged into the defaults (tcp, WebSockets, noise, yamux, identify, ping): see
   * {@link NrpLibp2pOptions}.
   */
  libp2p?: NrpLibp2pOptions<S>;
  /** Bitswap tuning, passed to `@helia/bitswap` as is. */
  bitswap?: BitswapOptions;
  /**
   * Wraps the blockstore that Helia, bitswap and pinning use, so a caller can refuse to store or serve some
   * blocks. Bitswap serves a peer's want by calling `has(cid)` and then `get(cid)` on this store. To refuse a
   * block, make `has` return false (the peer then gets DONT_HAVE); if `get` must throw, throw an error whose
   * `name` is `'NotFoundError'`. Any other error thrown by `has` or `get` while bitswap answers a peer aborts
   * that whole answer: @helia/bitswap 4 then sends none of the blocks in it, not even allowed ones, and does
   * not retry them for that peer (tried). Local reads go through the wrapper too: when `has` says false, Helia
   * fetches the block from peers and `put`s it, so refuse `put` as well. Identity-hash CIDs never reach it,
   * since Helia answers them from the CID itself.
   */
  wrapBlockstore?: (blockstore: Blockstore) => Blockstore;
  /**
   * Milliseconds to hold every bitswap message that carries blocks to `peer` before sending it: a penalty for
   * badly rated peers. Asked once per message; 0 sends at once. Only the blocks this node serves are held, not
   * its own wants nor what it fetches from `peer`, and a held message keeps only that peer waiting. Default: none.
   */
  serveDelay?: (peer: PeerId) => number;
  /** Aborts creation: a node that was already started is stopped again. */
  signal?: AbortSignal;
}

/** An option of {@link createNrpHelia} is wrong; the message says which and how. */
export class InvalidNrpHeliaOptionError extends Error {
  override name = 'InvalidNrpHeliaOptionError';
}

/** The node could not listen on one of its `listen` addresses, typically because another process holds the port. */
export class ListenFailedError extends Error {
  override name = 'ListenFailedError';
}

/**
 * Create and start a Helia node that exchanges blocks over bitswap on its own libp2p host.
 *
 * The host runs tcp and WebSockets (dialing both, listening on what `listen` names), noise, yamux, identify and
 * ping, plus whatever `init.libp2p` adds. It has no DHT, no delegated routing, no HTTP gateways and no public
 * bootstrappers: it talks only to peers it is told about (`bootstrap`, `mdns`, or explicit dials) and to peers
 * that dial it. Helia understands raw, dag-pb and dag-cbor blocks. Stop it with `await helia.stop()`.
 *
 * Helia 7 API notes: the peer id is `helia.libp2p.peerId` and the dialable addresses (with `/p2p/<peer id>`)
 * are `helia.libp2p.getMultiaddrs()`; `helia.blockstore.get(cid, { signal })` is an async generator of chunks,
 * and for a block that is not local it asks connected peers over bitswap until the signal aborts;
 * `helia.pins.add` does nothing until drained (see `pinRoot` in `pins.ts`).
 *
 * @example
 * ```ts
 * const helia = await createNrpHelia({ dataDir: '/var/lib/nrp/ipfs', listen: ['/ip4/0.0.0.0/tcp/4001'] });
 * console.info(helia.libp2p.peerId.toString(), helia.libp2p.getMultiaddrs().map(String));
 * const bytes = dagCbor.encode({ hello: 'world' });
 * const cid = CID.create(1, dagCbor.code, await sha256.digest(bytes));
 * await helia.blockstore.put(cid, bytes);
 * await helia.stop();
 * ```
 */
export async function createNrpHelia<S extends ServiceMap = Record<never, never>>(
  init: NrpHeliaInit<S> = {},
): Promise<NrpHelia<S>> {
  const { signal } = init;
  signal?.throwIfAborted();
  const listen = parseListen(init.listen ?? DEFAULT_LISTEN);
  const bootstrapList = parseBootstrap(init.bootstrap ?? []);
  const stores = await openStores(init.dataDir, { signal, privateKey: init.privateKey });
  const blockstore = init.wrapBlockstore?.(stores.blockstore) ?? stores.blockstore;

  const helia = createHeliaLight({
    blockstore,
    datastore: stores.datastore,
    // createHeliaLight knows only raw and dag-pb; pinning and walking nrp's dag-cbor payloads needs dag-cbor.
    codecs: [dagCbor],
  });
  // withLibp2pLight, unlike withLibp2p, adds nothing of its own: withLibp2p would add a DHT, relays, WebRTC,
  // public bootstrappers and delegated routing over HTTP.
  const node = withBitswap(
    withLibp2pLight(helia, libp2pOptions(init, stores.privateKey, listen, bootstrapList)),
    init.bitswap,
  ) as NrpHelia<S>;
  const delaying = init.serveDelay && delayServedBlocks(node, init.serveDelay);

  try {
    await node.start();
    delaying?.check();
    signal?.throwIfAborted();
  } catch (err) {
    await node
      .stop()
      .catch((stopErr: unknown) => log.error('could not stop a node that failed to start - %e', stopErr));
    throw listenFailed(err) ?? err;
  }
  log('started %p on %s', node.libp2p.peerId, node.libp2p.getMultiaddrs().map(String).join(', '));
  return node;
}

/** What {@link delayServedBlocks} uses of @helia/bitswap 4's block broker: its network's `sendMessage`. */
interface BitswapBrokerInternals {
  name: string;
  bitswap?: {
    network?: {
      sendMessage(peer: PeerId, message: { blocks: Map<string, unknown> }, options?: AbortOptions): Promise<void>;
    };
  };
}

/**
 * Holds the bitswap messages that carry blocks to a peer for `delayFor(peer)` ms. @helia/bitswap 4 answers a
 * peer's wants from that peer's own ledger queue, which hands each answer to its network's `sendMessage`: the
 * wait goes there, so it delays that peer alone, ends when the ledger is stopped (its signal aborts), and leaves
 * wantlists and what we fetch untouched. The broker is caught as the bitswap mixin adds it, during start.
 * (libp2p 3.3's stream middleware would be the other place, but it adds the handler again on every stream, and
 * a stream held before bitswap reads it can miss the remote's close.)
 */
function delayServedBlocks(helia: NrpHelia, delayFor: (peer: PeerId) => number): { check(): void } {
  let installed = false;
  const addBlockBroker = helia.addBlockBroker.bind(helia);
  helia.addBlockBroker = (broker) => {
    if (typeof broker !== 'function' && broker.name === 'bitswap') {
      const network = (broker as unknown as BitswapBrokerInternals).bitswap?.network;
      if (typeof network?.sendMessage === 'function') {
        const send = network.sendMessage.bind(network);
        network.sendMessage = async (peer, message, options) => {
          const delay = message.blocks.size > 0 ? delayFor(peer) : 0;
          if (delay > 0) {
            log('holding %d blocks for %p for %d ms', message.blocks.size, peer, delay);
            await sleep(delay, undefined, { signal: options?.signal });
          }
          return send(peer, message, options);
        };
        installed = true;
      }
    }
    addBlockBroker(broker);
  };
  return {
    // A penalty that silently does nothing is worse than a node that does not start.
    check() {
      if (!installed) throw new Error('Cannot delay served blocks: @helia/bitswap no longer has network.sendMessage');
    },
  };
}

interface Stores {
  blockstore: Blockstore;
  datastore?: Datastore;
  privateKey: PrivateKey;
}

async function openStores(
  dataDir: string | undefined,
  { signal, privateKey: given }: AbortOptions & { privateKey?: PrivateKey },
): Promise<Stores> {
  if (dataDir == null) {
    // Helia creates an in-memory datastore itself; the blockstore must exist here so it can be wrapped.
    return { blockstore: new MemoryBlockstore(), privateKey: given ?? (await generateKeyPair('Ed25519')) };
  }
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const privateKey = given ?? (await loadOrCreatePrivateKey(join(dataDir, 'peer.key'), { signal }));
  const blockstore = new FsBlockstore(join(dataDir, 'blocks'));
  const datastore = new FsDatastore(join(dataDir, 'datastore'));
  // Helia starts its stores but never opens them, and these two create their folders in open().
  // Their close() does nothing, so nothing needs to close them on stop.
  await blockstore.open();
  await datastore.open();
  signal?.throwIfAborted();
  return { blockstore, datastore, privateKey };
}

function libp2pOptions<S extends ServiceMap>(
  init: NrpHeliaInit<S>,
  privateKey: PrivateKey,
  listen: string[],
  bootstrapList: string[],
): Libp2pOptions<NrpDefaultServices & S> {
  const extra = init.libp2p ?? {};
  const peerDiscovery: NonNullable<Libp2pOptions['peerDiscovery']> = [];
  // @libp2p/bootstrap throws on an empty list, and waits 1 s by default before dialing.
  // Tagged keep-alive, so libp2p dials them again when a connection drops (and at the next start), with
  // backoff: without it a node whose bootstrap peers restarted would stay alone.
  if (bootstrapList.length > 0) {
    peerDiscovery.push(bootstrap({ list: bootstrapList, timeout: 10, tagName: KEEP_ALIVE }));
  }
  if (init.mdns === true) peerDiscovery.push(dialingMdns());
  return {
    ...extra,
    privateKey,
    addresses: {
      ...extra.addresses,
      listen: [...listen, ...(extra.addresses?.listen ?? [])],
    },
    // Both always, so the node dials /ws peers too; it listens on WebSockets only where `listen` says /ws.
    transports: [tcp(), webSockets(), ...(extra.transports ?? [])],
    connectionEncrypters: [noise(), ...(extra.connectionEncrypters ?? [])],
    streamMuxers: [yamux(), ...(extra.streamMuxers ?? [])],
    peerDiscovery: [...peerDiscovery, ...(extra.peerDiscovery ?? [])],
    connectionManager: {
      ...extra.connectionManager,
      allow: [...LOOPBACK_ALLOW, ...(extra.connectionManager?.allow ?? [])],
    },
    // identify-push tells connected peers of protocols registered after a connection opened: a peer dialled
    // at start-up, before bitswap and nrp's protocols are handled, would otherwise never learn of them.
    services: { identify: identify(), identifyPush: identifyPush(), ping: ping(), ...extra.services } as Libp2pOptions<
      NrpDefaultServices & S
    >['services'],
  };
}

/** Listen addresses, checked now: libp2p's error for a bad one does not say which it is. */
function parseListen(list: readonly string[]): string[] {
  return list.map((address) => {
    try {
      multiaddr(address);
    } catch (err) {
      throw new InvalidNrpHeliaOptionError(`Listen address ${address} is not a multiaddr`, { cause: err });
    }
    return address;
  });
}

/** libp2p's listen error as one line, without the stack traces that libp2p puts in its message. */
function listenFailed(err: unknown): ListenFailedError | undefined {
  if (!(err instanceof Error) || err.name !== 'UnsupportedListenAddressesError') return undefined;
  const details = err.message
    .split('\n')
    .slice(1)
    .filter((line) => line.trim() !== '' && !/^\s+at /.test(line))
    .map((line) => line.trim())
    .join('; ');
  return new ListenFailedError(
    `Could not listen on ${details || 'the listen addresses'}. Free the port or change the listen addresses.`,
    { cause: err },
  );
}

/** Bootstrap addresses, checked now: @libp2p/bootstrap would silently drop one without a peer id. */
function parseBootstrap(list: readonly string[]): string[] {
  return list.map((address) => {
    let hasPeerId: boolean;
    try {
      hasPeerId = multiaddr(address)
        .getComponents()
        .some((component) => component.code === CODE_P2P);
    } catch (err) {
      throw new InvalidNrpHeliaOptionError(`Bootstrap address ${address} is not a multiaddr`, { cause: err });
    }
    if (!hasPeerId) {
      throw new InvalidNrpHeliaOptionError(
        `Bootstrap address ${address} has no peer id: add /p2p/<peer id> of the peer at that address`,
      );
    }
    return address;
  });
}

interface Dialer {
  connectionManager: { openConnection(peer: PeerId, options?: AbortOptions): Promise<unknown> };
}

/** mDNS discovery that also dials what it finds: libp2p 3 only records discovered peers in its peer store. */
function dialingMdns(): (components: MulticastDNSComponents & Dialer) => PeerDiscovery {
  const discovery = mdns();
  return (components) => {
    const service = discovery(components);
    service.addEventListener('peer', (event) => {
      components.connectionManager.openConnection(event.detail.id).catch((err: unknown) => {
        log('could not dial %p found by mDNS - %e', event.detail.id, err);
      });
    });
    return service;
  };
}
