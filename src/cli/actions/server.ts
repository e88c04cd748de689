import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { unixfs } from '@helia/unixfs';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { getAddress } from 'viem';
import { getChainId } from 'viem/actions';
import { chainFromId, createNrpClients } from '../../chain/clients.js';
import { readDeployment } from '../../chain/deployment.js';
import { propose } from '../../chain/governance.js';
import { getServerByPeerId, registerServer, serverStatusCall } from '../../chain/registry.js';
import { createNrpHelia } from '../../ipfs/helia.js';
import { loadOrCreatePrivateKey } from '../../ipfs/keys.js';
import { pinRoot } from '../../ipfs/pins.js';
import { loadServerConfig, parseServerConfig, type ServerConfig, ServerConfigError } from '../../server/config.js';
import { dashboardUrl, readServerEndpoint, runningDashboardUrl } from '../../server/endpoint.js';
import type { ProposedPayloads } from '../../server/proposed-payloads.js';
import { createRatingServer } from '../../server/server.js';
import type { CliContext } from '../context.js';
import { CliError } from '../errors.js';
import { noteListSync } from '../format.js';
import { fail } from './governance.js';

export async function start(ctx: CliContext, options: { config?: string }) {
  let config: ServerConfig;
  try {
    const path = options.config ?? (existsSync('nrp-server.yaml') ? 'nrp-server.yaml' : undefined);
    config = path ? await loadServerConfig(path) : parseServerConfig({});
  } catch (error) {
    if (error instanceof ServerConfigError) throw new CliError(error.message);
    throw error;
  }
  const deployment = config.chain.deployment ? await readDeployment(config.chain.deployment) : undefined;
  const probe = createNrpClients({ rpcUrl: config.chain.rpc }).publicClient;
  const chainId = await getChainId(probe).catch((error) => {
    throw new CliError(`Cannot reach the chain at ${config.chain.rpc}: ${(error as Error).message}`);
  });
  const expected = config.chain.chainId ?? deployment?.chainId;
  if (expected !== undefined && expected !== chainId) {
    throw new CliError(`Wrong chain: ${config.chain.rpc} is chain ${chainId}, the configuration says ${expected}.`);
  }
  const list = config.chain.list ?? deployment?.contracts.IllegalDataList;
  if (!list) throw new CliError('No list to enforce: set chain.list or chain.deployment in the configuration.');
  const registryAddress = config.chain.registry ?? deployment?.contracts.RatingServerRegistry;
  const governor = config.chain.governor ?? deployment?.contracts.RatingGovernor;
  const client = createNrpClients({
    rpcUrl: config.chain.rpc,
    chain: chainFromId(chainId, config.chain.rpc),
  }).publicClient;
  const stopped = new AbortController();
  ctx.output.note(`starting the rating server on ${config.dataDir}: syncing list ${list} from the chain…`);
  const server = await createRatingServer(
    {
      dataDir: config.dataDir,
      listen: config.listen,
      announce: config.announce,
      bootstrap: config.bootstrap,
      list: getAddress(list),
      registry: registryAddress && getAddress(registryAddress),
      governor: governor && getAddress(governor),
      chainId,
      fromBlock: BigInt(deployment?.fromBlock ?? config.chain.fromBlock),
      sync: { confirmations: config.chain.confirmations },
      httpPort: config.httpPort,
      inferenceIntervalMs: config.inferenceIntervalMs,
      inference: config.inference,
      connectionManager: { maxConnections: config.maxConnections },
      pingIntervalMs: config.pingIntervalMs,
      signal: stopped.signal,
      onList: (synced) => noteListSync(ctx.output, synced),
      onProposals: (proposals) => noteProposedPayloads(ctx.output, proposals),
    },
    { client },
  ).catch((error) => {
    throw new CliError(`Cannot start the rating server: ${(error as Error).message}`, 1, { cause: error });
  });
  const endpoint = await readServerEndpoint(config.dataDir);
  const info = {
    peerId: server.peerId.toString(),
    addresses: server.getMultiaddrs().map(String),
    http: server.httpUrl,
    dashboard: endpoint ? dashboardUrl(endpoint) : `${server.httpUrl}/`,
    list,
    dataDir: config.dataDir,
  };
  ctx.output.result(info, () => {
    ctx.output.line(`Rating server ${info.peerId} enforcing list ${list}`);
    for (const address of info.addresses) ctx.output.line(`  ${address}`);
    ctx.output.line(`  HTTP API: ${info.http}/verdicts, /status, /topology, /hints/<peer>`);
    ctx.output.line(`  Dashboard (the link holds the operator token): ${info.dashboard}`);
    ctx.output.line('Ctrl-C stops it.');
  });
  server.addEventListener('snapshot', ({ detail }) =>
    ctx.output.note(`verdict snapshot ${detail.seq}: ${detail.verdicts.length} verdicts`),
  );
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  stopped.abort();
  await server.stop();
}

/** Tells the operator which proposed versions the server keeps, and which payloads it refused. */
function noteProposedPayloads(output: CliContext['output'], proposals: ProposedPayloads) {
  proposals.addEventListener('kept', ({ detail }) =>
    output.note(`kept the payload ${detail.cid} of proposal ${detail.proposalId} (version ${detail.proposed.version})`),
  );
  proposals.addEventListener('refused', ({ detail }) =>
    output.note(`refused the payload ${detail.cid} of proposal ${detail.proposalId}: ${detail.error}`),
  );
}

async function serverKey(dir: string) {
  try {
    return await loadOrCreatePrivateKey(join(dir, 'ipfs', 'peer.key'));
  } catch (error) {
    throw new CliError(`Cannot use the server key in ${dir}: ${(error as Error).message}`, 1, { cause: error });
  }
}

interface RegisterOptions {
  serverDir: string;
  multiaddr: string[];
  policy: string;
  list?: string;
  registry?: string;
}

export async function register(ctx: CliContext, options: RegisterOptions) {
  const registry = await ctx.contract('RatingServerRegistry', options.registry);
  const list = await ctx.contract('IllegalDataList', options.list);
  let policy: Uint8Array;
  try {
    policy = new Uint8Array(await readFile(options.policy));
  } catch (error) {
    throw new CliError(`Cannot read ${options.policy}: ${(error as NodeJS.ErrnoException).code}`);
  }
  const key = await serverKey(options.serverDir);
  const peerId = peerIdFromPrivateKey(key);
  // The policy is pinned in the server's own store, which serves it once the server runs.
  const helia = await createNrpHelia({ dataDir: join(options.serverDir, 'ipfs'), privateKey: key, listen: [] });
  let policyCid: string;
  try {
    const cid = await unixfs(helia).addBytes(policy);
    await pinRoot(helia, cid);
    policyCid = cid.toString();
  } finally {
    await helia.stop();
  }
  const wallet = await ctx.walletClient();
  const result = await registerServer(wallet, {
    registry,
    peerId: peerId.toMultihash().bytes,
    multiaddrs: options.multiaddr,
    policyCid,
    list,
  }).catch(fail);
  const activation = serverStatusCall(registry, result.serverId, 'active');
  ctx.output.result(
    { serverId: result.serverId, peerId: peerId.toString(), policyCid, list, transaction: result.hash, activation },
    (r) => {
      ctx.output.line(`Applied as rating server ${r.serverId} (${r.transaction}).`);
      ctx.output.line(`  peer id ${r.peerId}, policy ${r.policyCid}, list ${r.list}`);
      ctx.output.line('It counts once token holders activate it by vote. Start that vote with:');
      ctx.output.line(`  nrp server vote-on ${r.serverId} activate --reason "…"`);
      ctx.output.line(`(the proposal calls ${activation.target} with data ${activation.data})`);
    },
  );
}

const CHANGES = { activate: 'active', suspend: 'suspended', remove: 'removed' } as const;

export async function proposeStatus(
  ctx: CliContext,
  idText: string,
  change: string,
  options: { reason?: string; governor?: string; registry?: string },
) {
  if (!(change in CHANGES))
    throw new CliError(`The status change must be activate, suspend or remove, not “${change}”.`);
  if (!/^\d+$/.test(idText)) throw new CliError(`Not a server id: ${idText}`);
  const registry = await ctx.contract('RatingServerRegistry', options.registry);
  const governor = await ctx.contract('RatingGovernor', options.governor);
  const serverId = BigInt(idText);
  const call = serverStatusCall(registry, serverId, CHANGES[change as keyof typeof CHANGES]);
  const description =
    `${change[0].toUpperCase()}${change.slice(1)} rating server ${serverId}\n\n${options.reason ?? ''}`.trim();
  const wallet = await ctx.walletClient();
  const { proposalId, hash } = await propose(wallet, { governor, calls: [call], description }).catch(fail);
  ctx.output.result({ proposalId, transaction: hash, serverId, change }, (r) => {
    ctx.output.line(`Proposal ${r.proposalId} to ${change} rating server ${serverId} (${r.transaction}).`);
    ctx.output.line(`Vote on it with: nrp vote ${r.proposalId} for`);
  });
}

export async function status(ctx: CliContext, options: { serverDir: string; registry?: string }) {
  const registry = await ctx.contract('RatingServerRegistry', options.registry);
  const peerId = peerIdFromPrivateKey(await serverKey(options.serverDir));
  const client = await ctx.publicClient();
  const server = await getServerByPeerId(client, { registry, peerId: peerId.toMultihash().bytes }).catch(fail);
  // A server running on this data dir answers at the endpoint it wrote there.
  const dashboard = await runningDashboardUrl(options.serverDir);
  ctx.output.result({ peerId: peerId.toString(), server, ...(dashboard && { dashboard }) }, () => {
    if (dashboard) ctx.output.line(`Running here; dashboard (the link holds the operator token): ${dashboard}`);
    if (!server) {
      ctx.output.line(`${peerId} is not registered (or its registration was removed): run \`nrp server register\`.`);
      return;
    }
    ctx.output.line(`Rating server ${server.serverId}: ${server.status}`);
    ctx.output.line(`  peer id:  ${peerId}`);
    ctx.output.line(`  operator: ${server.operator}`);
    ctx.output.line(`  list:     ${server.list}`);
    ctx.output.line(`  policy:   ${server.policyCid}`);
    for (const address of server.multiaddrs) ctx.output.line(`  address:  ${address}`);
  });
}
