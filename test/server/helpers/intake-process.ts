/**
 * A rating server's report intake in a process of its own, for the crash test: it runs on `<dataDir>`
 * (`peer.key`, `server.db`) until killed, and prints one JSON line `{ peerId, addrs }` once it serves.
 *
 *   node --import tsx test/server/helpers/intake-process.ts <dataDir> [listed entry ids, hex, comma-separated]
 */
import { join } from 'node:path';
import { createNrpHelia } from '../../../src/ipfs/helia.js';
import { loadOrCreatePrivateKey } from '../../../src/ipfs/keys.js';
import { ReportIntake } from '../../../src/server/intake.js';
import { ServerStore } from '../../../src/server/store.js';

/** Runs until killed. */
async function main() {
  const [dataDir, listed = ''] = process.argv.slice(2);
  if (!dataDir) throw new Error('usage: intake-process.ts <dataDir> [entry ids]');
  const ids = new Set(listed.split(',').filter(Boolean));

  const privateKey = await loadOrCreatePrivateKey(join(dataDir, 'peer.key'));
  const helia = await createNrpHelia({ privateKey });
  const store = ServerStore.open(join(dataDir, 'server.db'));
  const intake = new ReportIntake(
    { libp2p: helia.libp2p, store, isListed: ({ entryId }) => ids.has(Buffer.from(entryId).toString('hex')) },
    { rateLimit: false },
  );
  await intake.start();
  process.stdout.write(
    `${JSON.stringify({ peerId: helia.libp2p.peerId.toString(), addrs: helia.libp2p.getMultiaddrs().map(String) })}\n`,
  );

  process.once('SIGTERM', async () => {
    await intake.stop();
    store.close();
    await helia.stop();
    process.exit(0);
  });
}

// Mocha loads every file under test/ as a test file: run only as a script.
if (import.meta.main) await main();
