import { getChainId } from 'viem/actions';
import { createNrpClients, LOCAL_RPC_URL } from '../../chain/clients.js';
import { ensureWebBuild } from '../../web/build.js';
import { redactRpcUrl } from '../../web/rpc-proxy.js';
import { startWebServer } from '../../web/server.js';
import type { CliContext } from '../context.js';
import { CliError } from '../errors.js';
import { noteRegistryServers } from './ipfs.js';

export interface WebOptions {
  port: string;
  listen: string[];
  blockTimeout: string;
  rebuild?: boolean;
}

export async function serveWeb(ctx: CliContext, options: WebOptions) {
  const port = Number(options.port);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new CliError(`--port must be a number from 0 to 65535, not ${options.port}`);
  }
  const blockTimeout = Number(options.blockTimeout);
  if (!Number.isFinite(blockTimeout) || blockTimeout <= 0) {
    throw new CliError(`--block-timeout must be a positive number of seconds, not ${options.blockTimeout}`);
  }
  const { outDir } = await ensureWebBuild({
    force: options.rebuild,
    onBuild: (reason) => ctx.output.note(`Building the web app (${reason}); this takes a few seconds…`),
  });
  const deployment = await ctx.deployment();
  if (!deployment) {
    ctx.output.note('No deployment record found: the app will ask for one. Pass --deployment, or run `npm run chain`.');
  }
  const rpcUrl = ctx.rpcUrl();
  const helia = await ctx.helia(options.listen);
  const server = await startWebServer(
    {
      port,
      staticDir: outDir,
      rpcUrl,
      deployment,
      peers: ctx.peers(),
      blockTimeoutMs: blockTimeout * 1000,
    },
    { helia },
  ).catch((error: Error) => {
    throw new CliError(error.message, 1, { cause: error });
  });
  // Not fatal: the app shows the same problem and keeps retrying, so the chain may start later.
  const chainProblem = await chainCheck(rpcUrl, deployment?.chainId);
  if (chainProblem) ctx.output.note(`Warning: ${chainProblem}`);
  else await noteRegistryServers(ctx);

  const addresses = helia.libp2p.getMultiaddrs().map(String);
  ctx.output.result({ url: server.url, peerId: helia.libp2p.peerId.toString(), addresses, deployment }, (r) => {
    ctx.output.line(`Governance web app: ${r.url}`);
    ctx.output.line(`  chain RPC:  ${redactRpcUrl(rpcUrl)} (proxied as ${r.url}/rpc)`);
    if (deployment) {
      ctx.output.line(`  DAO:        chain ${deployment.chainId}, Governor ${deployment.contracts.RatingGovernor}`);
    }
    ctx.output.line(`  IPFS node:  ${r.peerId}, blocks in ${ctx.dataDir()}`);
    for (const address of r.addresses) ctx.output.line(`              ${address}`);
    ctx.output.line('Payloads proposed in the app are pinned here; keep it (or `nrp ipfs serve`) running until a');
    ctx.output.line('rating server of the list has kept them (its GET /proposals), so voters can fetch them.');
    ctx.output.line('Ctrl-C stops it.');
  });
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await server.close();
}

async function chainCheck(rpcUrl: string, expected: number | undefined): Promise<string | undefined> {
  let chainId: number;
  try {
    chainId = await getChainId(createNrpClients({ rpcUrl }).publicClient);
  } catch {
    const hint = rpcUrl === LOCAL_RPC_URL ? ' Start it with `npm run chain`, or pass --rpc.' : '';
    return `cannot reach the chain RPC at ${redactRpcUrl(rpcUrl)} yet; the app keeps trying.${hint}`;
  }
  if (expected !== undefined && chainId !== expected) {
    return `the RPC at ${redactRpcUrl(rpcUrl)} is chain ${chainId}, but the deployment is on chain ${expected}.`;
  }
  return undefined;
}
