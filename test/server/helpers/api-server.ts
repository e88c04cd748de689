import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'chai';
import type { NrpHelia } from '../../../src/ipfs/helia.js';
import { entryId, entryIdToHex } from '../../../src/lists/entry-id.js';
import type { EncodedPayload } from '../../../src/lists/payload.js';
import { peerIdToString } from '../../../src/node/protocol/peer.js';
import { encodeReport } from '../../../src/node/protocol/report.js';
import type { ServerEndpoint } from '../../../src/server/endpoint.js';
import { createRatingServer, type RatingServer, type RatingServerInit } from '../../../src/server/server.js';
import { publicClient, type ViemDao } from '../../chain/helpers.js';
import { waitFor } from '../../node/helpers/wait.js';
import { publishListVersion } from './governance.js';
import { cidOf, sightingOf, signedEdge, signedReport, type TestPeer, testPeer } from './reports.js';

/** Texts whose CIDs the test list holds. */
export const LISTED = ['listed one', 'listed two', 'listed three'];

/** Starts a rating server on the in-process chain, with loops slow enough that the test drives them. */
export async function startTestServer(
  dao: ViemDao,
  dataDir: string,
  init: Partial<RatingServerInit> = {},
): Promise<RatingServer> {
  return createRatingServer(
    {
      dataDir,
      list: dao.list,
      chainId: 31337,
      fromBlock: 0n,
      inferenceIntervalMs: 3_600_000,
      sync: { pollIntervalMs: 3_600_000, fetchTimeoutMs: 5_000, retryDelayMs: 100, maxRetryDelayMs: 500 },
      // Every offer counts as after the listing, so the relay is gray: the in-process chain's clock runs ahead of
      // the wall clock (each block is at least a second after the one before), so a list version may take effect
      // "after" adverts signed just now.
      inference: { graceMs: -24 * 60 * 60_000 },
      ...init,
    },
    { client: publicClient },
  );
}

/** The HTTP endpoint and operator token the server wrote to its data dir. */
export async function endpointOf(dataDir: string): Promise<ServerEndpoint> {
  return JSON.parse(await readFile(join(dataDir, 'server.json'), 'utf8'));
}

/**
 * Publishes a list version holding `texts` and waits until the server has it in force. The payload is written
 * straight into the server's blockstore, or, with `holder`, into that node's, which the server then dials and
 * fetches it from as it would from a proposer.
 */
export async function listAndSync(
  dao: ViemDao,
  server: RatingServer,
  texts: string[],
  options: { version?: number; holder?: NrpHelia } = {},
): Promise<EncodedPayload> {
  const { version = Number(server.list.current.version) + 1, holder } = options;
  const ids = await Promise.all(texts.map(async (text) => entryId(await cidOf(text))));
  const metadata = new Map(ids.map((id) => [entryIdToHex(id), { category: 'test', reason: 'listed by a test' }]));
  const payload = await publishListVersion(dao, (holder ?? server.helia).blockstore, {
    version,
    ids,
    // Each version in these tests adds to the one before.
    added: texts.length - server.list.current.count,
    removed: 0,
    parent: server.list.current.payloadCid,
    metadata,
  });
  if (holder) await server.helia.libp2p.dial(holder.libp2p.getMultiaddrs());
  await waitFor(`version ${version} at the server`, async () => {
    await server.list.syncOnce();
    return server.list.current.version === BigInt(version);
  });
  return payload;
}

/** Signs a report as `reporter` and hands it to the server's intake, as the report protocol would. */
export async function report(server: RatingServer, reporter: TestPeer, fields: Parameters<typeof signedReport>[1]) {
  const ack = await server.intake.receive(encodeReport(await signedReport(reporter, fields)), reporter.id);
  expect(ack, 'the report is accepted').to.include({ accepted: true });
  return ack;
}

/** The peers of {@link populate}'s little network, as ids. */
export interface TestNetwork {
  /** Reports; got listed content from `distributor` and passed it to `second`: a gray relay. */
  first: TestPeer;
  /** Reports; saw `first` offer listed content. Not rated. */
  second: TestPeer;
  /** Reports to nobody and offered listed content: black. */
  distributor: TestPeer;
  /** `second`'s neighbour that reports to nobody and offered nothing: not rated. */
  bystander: TestPeer;
  ids: { first: string; second: string; distributor: string; bystander: string };
}

/**
 * Lists {@link LISTED} and feeds the server two reports, so the map has four peers (two reporting) and three
 * edges, and the verdicts are black for the distributor and gray for the relay. Runs an inference pass.
 */
export async function populate(dao: ViemDao, server: RatingServer): Promise<TestNetwork> {
  await listAndSync(dao, server, LISTED);
  const [first, second, distributor, bystander] = await Promise.all([testPeer(), testPeer(), testPeer(), testPeer()]);
  const now = Date.now();
  await report(server, first, {
    seq: 1,
    edges: [await signedEdge(first, distributor), await signedEdge(first, second)],
    sightings: [await sightingOf(distributor, LISTED[0], now - 2_000)],
  });
  await report(server, second, {
    seq: 1,
    edges: [await signedEdge(second, first), await signedEdge(second, bystander)],
    sightings: [await sightingOf(first, LISTED[0], now - 1_000)],
  });
  await server.infer();
  const ids = {
    first: peerIdToString(first.id),
    second: peerIdToString(second.id),
    distributor: peerIdToString(distributor.id),
    bystander: peerIdToString(bystander.id),
  };
  return { first, second, distributor, bystander, ids };
}
