import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { isAddress } from 'viem';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import {
  DEFAULT_AFTER_WEIGHT,
  DEFAULT_BEFORE_WEIGHT,
  DEFAULT_GRACE_MS,
  DEFAULT_HALF_LIFE_MS,
  DEFAULT_VERDICT_TTL_MS,
} from './inference.js';

/** Connections a rating server keeps open by default: every node it serves reports over one. */
export const DEFAULT_SERVER_MAX_CONNECTIONS = 10_000;

/** Milliseconds between a rating server's pings of each connection by default. */
export const DEFAULT_SERVER_PING_INTERVAL_MS = 60_000;

const multiaddr = z.string().regex(/^\//, 'a multiaddr starts with /');

/** The schema of a rating server's configuration file (YAML or JSON). */
export const serverConfigSchema = z
  .object({
    /** Where the server keeps its key, pinned list versions, reports and verdicts. */
    dataDir: z.string().default(join(homedir(), '.nrp', 'server')),
    /** Fixed addresses nodes reach the server at; register the same ones on chain. */
    listen: z.array(multiaddr).default(['/ip4/127.0.0.1/tcp/4100']),
    /** Addresses to announce and register instead of the listen addresses (a server listening on 0.0.0.0). */
    announce: z.array(multiaddr).default([]),
    bootstrap: z.array(multiaddr).default([]),
    chain: z
      .object({
        rpc: z.string().url().default('http://127.0.0.1:8545'),
        /** Deployment record: chain id, the default list, first block. */
        deployment: z.string().optional(),
        /** The list this server enforces; default: the deployment's. */
        list: z
          .string()
          .refine((value) => isAddress(value), 'not an Ethereum address')
          .optional(),
        /** The rating-server registry, shown on the dashboard; default: the deployment's. */
        registry: z
          .string()
          .refine((value) => isAddress(value), 'not an Ethereum address')
          .optional(),
        /** The Governor whose proposed list versions the server keeps while the vote runs; default: the deployment's. */
        governor: z
          .string()
          .refine((value) => isAddress(value), 'not an Ethereum address')
          .optional(),
        chainId: z.number().int().positive().optional(),
        fromBlock: z.number().int().nonnegative().default(0),
        confirmations: z.number().int().nonnegative().default(0),
      })
      .strict()
      .default({}),
    /** libp2p connections kept open at most: about the number of nodes that report to this server. */
    maxConnections: z.number().int().positive().default(DEFAULT_SERVER_MAX_CONNECTIONS),
    /** Milliseconds between pings of each connection (libp2p notices dead ones this way). */
    pingIntervalMs: z.number().int().positive().default(DEFAULT_SERVER_PING_INTERVAL_MS),
    /** Port of the HTTP API on 127.0.0.1; 0 picks a free one. */
    httpPort: z.number().int().min(0).max(65_535).default(8_790),
    /** Milliseconds between inference passes. */
    inferenceIntervalMs: z.number().int().positive().default(10_000),
    /**
     * The rating policy in numbers: how the inference weighs evidence (src/server/inference.ts). Servers with
     * different policies may choose differently; nodes see each verdict's reason either way.
     */
    inference: z
      .object({
        /**
         * How long after a list version takes effect a peer may not know it yet: offers before then weigh
         * `beforeWeight`, later ones `afterWeight`.
         */
        graceMs: z.number().int().nonnegative().default(DEFAULT_GRACE_MS),
        beforeWeight: z.number().positive().default(DEFAULT_BEFORE_WEIGHT),
        afterWeight: z.number().positive().default(DEFAULT_AFTER_WEIGHT),
        /** Time for a sighting's weight to halve. */
        halfLifeMs: z.number().int().positive().default(DEFAULT_HALF_LIFE_MS),
        /** How long a verdict lasts after the peer's last offer it rests on. */
        verdictTtlMs: z.number().int().positive().default(DEFAULT_VERDICT_TTL_MS),
        /**
         * A node that reports to this server but cannot say where it got listed content is its origin. Rate
         * it gray, not black, while all its offers came before the version took effect (grace included): it
         * shared the content while that was still allowed. False: black regardless.
         */
        reportingOriginGrace: z.boolean().default(true),
      })
      .strict()
      .default({}),
  })
  .strict();

export type ServerConfig = z.infer<typeof serverConfigSchema>;

export class ServerConfigError extends Error {
  override name = 'ServerConfigError';
}

/** Reads and validates a server configuration file; relative paths are taken from the file's folder. */
export async function loadServerConfig(path: string): Promise<ServerConfig> {
  let value: unknown;
  try {
    const text = await readFile(path, 'utf8');
    value = path.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new ServerConfigError(code ? `Cannot read ${path}: ${code}` : `${path}: ${(error as Error).message}`);
  }
  return parseServerConfig(value ?? {}, dirname(resolve(path)), path);
}

export function parseServerConfig(value: unknown, base = process.cwd(), source = 'the configuration'): ServerConfig {
  const result = serverConfigSchema.safeParse(value);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `  - ${issue.path.join('.') || '(top)'}: ${issue.message}`);
    throw new ServerConfigError(`${source} is not a valid server configuration:\n${problems.join('\n')}`);
  }
  const local = (path: string) => (isAbsolute(path) ? path : resolve(base, path));
  const config = result.data;
  return {
    ...config,
    dataDir: local(config.dataDir),
    chain: { ...config.chain, deployment: config.chain.deployment && local(config.chain.deployment) },
  };
}
