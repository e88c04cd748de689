import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { peerIdFromString } from '@libp2p/peer-id';
import { multiaddr as parseMultiaddr } from '@multiformats/multiaddr';
import { isAddress } from 'viem';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

/** The longest `penalties.delayMs`: well within an advert's 10-minute freshness, with room for queues. */
export const MAX_DELAY_MS = 60_000;

const multiaddr = z.string().regex(/^\//, 'a multiaddr starts with /');
/** What the node can listen on: TCP, or WebSockets over TCP (`…/tcp/<port>/ws`). */
const LISTENABLE = /^(ip4|ip6|dns|dns4|dns6)\/tcp(\/ws)?$/;
const listenAddress = multiaddr.superRefine((value, context) => {
  let names: string;
  try {
    names = parseMultiaddr(value)
      .getComponents()
      .map((component) => component.name)
      .join('/');
  } catch (error) {
    context.addIssue({ code: 'custom', message: `not a multiaddr: ${(error as Error).message}` });
    return;
  }
  if (!LISTENABLE.test(names)) {
    context.addIssue({
      code: 'custom',
      message: 'the node listens on TCP (/ip4/…/tcp/<port>) or WebSockets (/ip4/…/tcp/<port>/ws) only',
    });
  }
});
const address = z.string().refine((value) => isAddress(value), 'not an Ethereum address');
/** A libp2p peer id, checked here so that a placeholder left in the file (`12D3KooW…`) is named as the problem. */
const peerId = z.string().superRefine((value, context) => {
  try {
    peerIdFromString(value);
  } catch (error) {
    context.addIssue({ code: 'custom', message: `not a libp2p peer id (${(error as Error).message})` });
  }
});
const milliseconds = z.number().int().positive();

/** The schema of a node's configuration file (YAML or JSON). Every field but `servers` has a default. */
export const nodeConfigSchema = z
  .object({
    /** Where the node keeps its key, blocks, content, evidence, reports and verdicts. */
    dataDir: z.string().default(join(homedir(), '.nrp', 'node')),
    /** Addresses to listen on: TCP, and WebSockets for those ending in /ws (e.g. /ip4/0.0.0.0/tcp/4002/ws). */
    listen: z.array(listenAddress).default(['/ip4/127.0.0.1/tcp/4001']),
    /** Peers to connect to at start, each ending in /p2p/<peer id>. */
    bootstrap: z.array(multiaddr).default([]),
    /** Find peers on the local network with multicast DNS. */
    mdns: z.boolean().default(false),
    chain: z
      .object({
        /** JSON-RPC URL of the chain. */
        rpc: z.string().url().default('http://127.0.0.1:8545'),
        /** Deployment record (from `npm run chain` or deploy-dao): chain id, registry, first block. */
        deployment: z.string().optional(),
        /** The rating-server registry, if no deployment record is given. */
        registry: address.optional(),
        chainId: z.number().int().positive().optional(),
        fromBlock: z.number().int().nonnegative().default(0),
        /** Blocks an event must be buried under; 0 on a local chain. */
        confirmations: z.number().int().nonnegative().default(0),
      })
      .strict()
      .default({}),
    /** Rating servers this node follows, each with a priority. */
    servers: z
      .array(
        z
          .object({
            /** The server's libp2p peer id; its key must be active in the registry. */
            peerId,
            priority: z.enum(['high', 'low']),
            /** The list it enforces; default: the one its registration names. */
            list: address.optional(),
            /** Where to reach it; default: its registered multiaddrs. */
            multiaddrs: z.array(multiaddr).optional(),
          })
          .strict(),
      )
      .default([]),
    /** More on-chain lists to enforce, besides those of the followed servers. */
    lists: z.array(address).default([]),
    /** Local denylist files (CIDs, entry ids or IPIP-383) that this node also enforces. */
    localLists: z.array(z.string()).default([]),
    intervals: z
      .object({
        reportMs: milliseconds.default(60_000),
        ratingsMs: milliseconds.default(30_000),
        edgeRefreshMs: milliseconds.default(600_000),
        chainPollMs: milliseconds.default(2_000),
      })
      .strict()
      .default({}),
    penalties: z
      .object({
        /**
         * How long adverts from and to a delayed peer, and blocks to it, are held back. At most a minute: an
         * advert older than `ADVERT_MAX_AGE_MS` (10 minutes) is refused as stale, so a longer hold would turn
         * a delay into a silent cut.
         */
        delayMs: z
          .number()
          .int()
          .nonnegative()
          .max(MAX_DELAY_MS, `at most ${MAX_DELAY_MS} ms (one minute): held adverts must still be fresh`)
          .default(2_000),
      })
      .strict()
      .default({}),
    fetch: z
      .object({
        /** Fetch and re-share what neighbours advertise. */
        auto: z.boolean().default(true),
        maxBytes: z
          .number()
          .int()
          .positive()
          .default(64 * 2 ** 20),
        concurrency: z.number().int().positive().default(4),
      })
      .strict()
      .default({}),
    control: z
      .object({
        /** Port of the local control API on 127.0.0.1 (`nrp node add/status/why`); 0 picks a free one. */
        port: z.number().int().min(0).max(65_535).default(0),
      })
      .strict()
      .default({}),
  })
  .strict();

export type NodeConfig = z.infer<typeof nodeConfigSchema>;

export class NodeConfigError extends Error {
  override name = 'NodeConfigError';
}

/**
 * Reads and validates a node configuration file. Relative paths in it are
 * taken from the file's folder. Throws {@link NodeConfigError} listing every
 * problem, each with where it is.
 *
 * @example
 * const config = await loadNodeConfig('node.yaml');
 */
export async function loadNodeConfig(path: string): Promise<NodeConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new NodeConfigError(`Cannot read ${path}: ${(error as NodeJS.ErrnoException).code}`, { cause: error });
  }
  let value: unknown;
  try {
    value = path.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (error) {
    throw new NodeConfigError(
      `${path} is not valid ${path.endsWith('.json') ? 'JSON' : 'YAML'}: ${(error as Error).message}`,
    );
  }
  return parseNodeConfig(value ?? {}, dirname(resolve(path)), path);
}

/** Validates a configuration object; `base` resolves relative paths. */
export function parseNodeConfig(value: unknown, base = process.cwd(), source = 'the configuration'): NodeConfig {
  const result = nodeConfigSchema.safeParse(value);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `  - ${issue.path.join('.') || '(top)'}: ${issue.message}`);
    throw new NodeConfigError(`${source} is not a valid node configuration:\n${problems.join('\n')}`);
  }
  const config = result.data;
  const local = (path: string) => (isAbsolute(path) ? path : resolve(base, path));
  return {
    ...config,
    dataDir: local(config.dataDir),
    chain: { ...config.chain, deployment: config.chain.deployment && local(config.chain.deployment) },
    localLists: config.localLists.map(local),
  };
}
