import { join } from 'node:path';
import { unixfs } from '@helia/unixfs';
import type { CID } from 'multiformats/cid';
import { createNrpHelia, type NrpHelia } from '../ipfs/helia.js';
import { pinRoot } from '../ipfs/pins.js';

/**
 * The IPFS node of the demo's proposers and operators, as `nrp ipfs serve` would run it: it pins the list
 * payloads they build and the policy documents they publish, and stays up so servers and nodes can fetch them.
 */
export interface DemoIpfsHost {
  helia: NrpHelia;
  /** Its multiaddrs, each ending in `/p2p/<peer id>`: the servers' bootstrap peer. */
  addresses: string[];
  /** Adds and pins a document; its CID names it on chain. */
  addDocument(text: string): Promise<CID>;
  stop(): Promise<void>;
}

export async function startIpfsHost(options: { dataDir: string; port: number }): Promise<DemoIpfsHost> {
  const helia = await createNrpHelia({
    dataDir: join(options.dataDir, 'ipfs'),
    listen: [`/ip4/127.0.0.1/tcp/${options.port}`],
  });
  return {
    helia,
    addresses: helia.libp2p.getMultiaddrs().map(String),
    async addDocument(text) {
      const cid = await unixfs(helia).addBytes(new TextEncoder().encode(text));
      await pinRoot(helia, cid);
      return cid;
    },
    async stop() {
      await helia.stop();
    },
  };
}
