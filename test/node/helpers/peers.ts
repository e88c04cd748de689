import { createServer } from 'node:net';
import { generateKeyPair } from '@libp2p/crypto/keys';
import type { Ed25519PrivateKey } from '@libp2p/interface';
import { createNrpHelia, type NrpHelia } from '../../../src/ipfs/helia.js';

/** A real libp2p host on loopback with the key it signs with. */
export interface TestHost {
  key: Ed25519PrivateKey;
  helia: NrpHelia;
  id: string;
}

/** Starts a Helia node (tcp on 127.0.0.1) with a fresh or given Ed25519 key. */
export async function startHost(options: { key?: Ed25519PrivateKey; listen?: string[] } = {}): Promise<TestHost> {
  const key = options.key ?? (await generateKeyPair('Ed25519'));
  const helia = await createNrpHelia({ privateKey: key, listen: options.listen });
  return { key, helia, id: helia.libp2p.peerId.toString() };
}

/** A TCP port on 127.0.0.1 that was free a moment ago: where a host that is not up yet will listen. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}
