import type { ServerPriority } from '../node/ratings.js';
import type { InferenceOptions } from '../server/inference.js';
import { TOPOLOGY_MODELS, type TopologyModel } from './graph.js';

/**
 * Which reports are really signed and verified:
 * - `liars`: the lying reporters' reports are real signed messages (forged
 *   adverts, half-signed edges) and go through the server's real
 *   `ReportVerifier`; honest reports are fed to the server as the records its
 *   intake stores after verification (edges and sightings), without the
 *   cryptography. Fast: 10,000 nodes in seconds.
 * - `all`: every advert, edge attestation, report and verdict snapshot is a
 *   real signed message; every report goes through the real `ReportIntake`
 *   into a real `ServerStore` (SQLite in memory), read back by the real
 *   `EvidenceFeed`, and every snapshot is signed by the real `VerdictIssuer`
 *   and checked by the nodes with `verifyVerdictSnapshot`. Slow (~10× or more).
 */
export type VerifyMode = 'liars' | 'all';

export const VERIFY_MODES: readonly VerifyMode[] = ['liars', 'all'];

/** Everything a run depends on. Times in ms. See {@link DEFAULT_SIMULATION_CONFIG}. */
export interface SimulationConfig {
  /** Virtual nodes, servers not included. */
  nodes: number;
  /** Share of nodes that follow (report to and enforce the list of) each server, drawn per node and server. */
  coverage: number;
  /** Rating servers. All enforce the same list, unless `split`. */
  servers: number;
  /** The priority followers give each server, by server index (repeated when shorter). */
  priorities: ServerPriority[];
  /** Share of nodes that are malicious distributors (at least one when above 0). */
  malicious: number;
  /** Share of nodes that are lying reporters, chosen among the followers. */
  liars: number;
  /** Report interval: every follower reports once per interval. The node's default is one minute. */
  intervalMs: number;
  /** Report intervals simulated after the listed content is first pushed. */
  rounds: number;
  topology: TopologyModel;
  /** Degree of the random regular graph; mean degree of the scale-free one. */
  degree: number;
  seed: number | string;
  /**
   * The seed's 二分 case: two servers with different lists (each lists an item the other allows), every
   * follower in one camp, following only its camp's server at high priority. Honest nodes of each camp share
   * the item their own server allows.
   */
  split: boolean;
  /** In a split, the share of followers in the first camp. */
  campShare: number;
  /** In a split, honest nodes that share each disputed item at the start. */
  seeders: number;
  /** Malicious nodes refuse to countersign edge attestations, so no sighting of them can count. */
  evasive: boolean;
  verify: VerifyMode;
  /** When false, lies skip verification and go straight into the inference: what verification prevents. */
  verifyLies: boolean;
  /** When the list version that lists the content takes effect, relative to the first push. */
  listAtMs: number;
  /** Each follower enforces a new version up to this long after it takes effect (chain confirmations, fetch). */
  syncLagMs: number;
  /** Malicious distributors advertise their content again this often. */
  pushIntervalMs: number;
  /** Dials a malicious distributor makes per push to replace lost connections. */
  redial: number;
  /** How often followers poll their servers' verdicts. The node's default: 30 s. */
  pollIntervalMs: number;
  /** How often servers run the inference. The server's default: 10 s. */
  inferenceIntervalMs: number;
  /** How long a delayed neighbour's adverts are held. `PenaltyManager`'s default: 2 s. */
  delayMs: number;
  /** Neighbours re-attest their edge this often. `EdgeService`'s default: 10 minutes. */
  edgeRefreshMs: number;
  /** A report carries edges attested this recently. `EdgeService.currentEdges`' default: 30 minutes. */
  edgeReportMaxAgeMs: number;
  /** One advert's trip over one connection: uniform in [min, max]. */
  advertLatencyMs: [number, number];
  /** Fetching the content from the neighbour that advertised it: uniform in [min, max]. */
  fetchLatencyMs: [number, number];
  /** The servers' inference parameters (grace, half-life, verdict lifetime, weights); the server's defaults. */
  inference: Omit<InferenceOptions, 'now'>;
}

export const DEFAULT_SIMULATION_CONFIG: Readonly<SimulationConfig> = Object.freeze({
  nodes: 10_000,
  coverage: 0.9,
  servers: 1,
  priorities: ['high'] as ServerPriority[],
  malicious: 0.001,
  liars: 0.01,
  intervalMs: 60_000,
  rounds: 10,
  topology: 'random-regular' as TopologyModel,
  degree: 8,
  seed: 1,
  split: false,
  campShare: 0.5,
  seeders: 5,
  evasive: false,
  verify: 'liars' as VerifyMode,
  verifyLies: true,
  listAtMs: -60 * 60_000,
  syncLagMs: 2 * 60_000,
  pushIntervalMs: 60_000,
  redial: 8,
  pollIntervalMs: 30_000,
  inferenceIntervalMs: 10_000,
  delayMs: 2_000,
  edgeRefreshMs: 10 * 60_000,
  edgeReportMaxAgeMs: 30 * 60_000,
  advertLatencyMs: [20, 200] as [number, number],
  fetchLatencyMs: [500, 3_000] as [number, number],
  inference: {},
});

/** A parameter is out of range; the message says which and why. */
export class InvalidSimulationConfigError extends Error {
  override name = 'InvalidSimulationConfigError';
}

/** The defaults with `overrides`, checked. Throws {@link InvalidSimulationConfigError}. */
export function resolveConfig(overrides: Partial<SimulationConfig> = {}): SimulationConfig {
  const config: SimulationConfig = { ...DEFAULT_SIMULATION_CONFIG, ...stripUndefined(overrides) };
  const fail = (message: string): never => {
    throw new InvalidSimulationConfigError(message);
  };
  const integer = (name: keyof SimulationConfig, min: number, max = Number.MAX_SAFE_INTEGER) => {
    const value = config[name] as number;
    if (!Number.isInteger(value) || value < min || value > max) {
      fail(`${name} must be an integer from ${min} to ${max}, not ${value}`);
    }
  };
  const share = (name: keyof SimulationConfig) => {
    const value = config[name] as number;
    if (typeof value !== 'number' || !(value >= 0 && value <= 1))
      fail(`${name} must be a share from 0 to 1, not ${value}`);
  };
  const duration = (name: keyof SimulationConfig, min = 1) => {
    const value = config[name] as number;
    if (!Number.isFinite(value) || value < min) fail(`${name} must be at least ${min} ms, not ${value}`);
  };
  integer('nodes', 10, 1_000_000);
  share('coverage');
  integer('servers', 1, 32);
  share('malicious');
  share('liars');
  share('campShare');
  duration('intervalMs', 1_000);
  integer('rounds', 1, 10_000);
  integer('degree', 1, config.nodes - 1);
  integer('seeders', 0, config.nodes);
  integer('redial', 0, 10_000);
  duration('pushIntervalMs', 1_000);
  duration('pollIntervalMs', 1_000);
  duration('inferenceIntervalMs', 1_000);
  duration('delayMs', 0);
  duration('edgeRefreshMs', 1_000);
  duration('edgeReportMaxAgeMs', config.edgeRefreshMs);
  duration('syncLagMs', 0);
  if (!Number.isFinite(config.listAtMs)) fail(`listAtMs must be a number of ms, not ${config.listAtMs}`);
  for (const name of ['advertLatencyMs', 'fetchLatencyMs'] as const) {
    const [min, max] = config[name];
    if (!(Number.isFinite(min) && Number.isFinite(max) && min >= 0 && max >= min)) {
      fail(`${name} must be [min, max] with 0 ≤ min ≤ max, not [${min}, ${max}]`);
    }
  }
  if (!TOPOLOGY_MODELS.includes(config.topology)) {
    fail(`topology must be ${TOPOLOGY_MODELS.join(' or ')}, not "${config.topology}"`);
  }
  if (!VERIFY_MODES.includes(config.verify))
    fail(`verify must be ${VERIFY_MODES.join(' or ')}, not "${config.verify}"`);
  if (config.priorities.length === 0 || config.priorities.some((p) => p !== 'high' && p !== 'low')) {
    fail(`priorities must be a list of "high" and "low", not "${config.priorities.join(',')}"`);
  }
  if (config.split && config.servers !== 2) fail('A split has exactly two servers, one per camp');
  if (config.verify === 'all' && !config.verifyLies) {
    fail('verifyLies can be turned off only with verify "liars": the real intake always verifies');
  }
  if (config.topology === 'random-regular' && (config.nodes * config.degree) % 2 !== 0) {
    fail(`A ${config.degree}-regular graph of ${config.nodes} nodes is impossible: make nodes × degree even`);
  }
  return config;
}

/** The priority followers give server `index`. */
export function priorityOf(config: SimulationConfig, index: number): ServerPriority {
  if (config.split) return 'high';
  return config.priorities[index % config.priorities.length];
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
