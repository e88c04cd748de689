import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { Rating } from '../node/protocol/verdict.js';
import { type HttpRoute, rawResponse } from '../utils/http-api.js';
import { type AcceptedReportEvent, REJECTION_REASONS, type RejectedReportEvent, type ReportIntake } from './intake.js';
import type { InferenceOutcome, RatingServer } from './server.js';
import type { ServerStore, ServerStoreStats } from './store.js';

const RATINGS: readonly Rating[] = ['white', 'gray', 'black'];

export interface ServerMetricsComponents {
  /** Report counters come from its `accepted` and `rejected` events. */
  intake: Pick<ReportIntake, 'addEventListener' | 'removeEventListener' | 'verifierStats'>;
  /** Stored rows and tips, counted when scraped. */
  store?: Pick<ServerStore, 'stats'>;
  /** Verdicts, inference passes and snapshots from its events; the list version and connections when scraped. */
  server?: Pick<RatingServer, 'addEventListener' | 'removeEventListener' | 'snapshot' | 'list' | 'helia'>;
}

export interface ServerMetricsInit {
  /** Prefix of every metric of this server. Default `nrp_server_`. */
  prefix?: string;
  /** Also Node's process metrics (CPU, memory, event-loop lag, GC), unprefixed as usual. Default true. */
  processMetrics?: boolean;
}

/**
 * A rating server's Prometheus metrics, in a registry of its own (several servers in one process do not mix):
 *
 * - `nrp_server_reports_accepted_total`, `nrp_server_reports_rejected_total{reason}` (every reason from 0),
 *   `nrp_server_report_edges_total`, `nrp_server_report_sightings_total`, `nrp_server_report_processing_seconds`
 *   (arrival to acknowledgement);
 * - `nrp_server_verifier_cache_hits_total`, `nrp_server_verifier_verifications_total`,
 *   `nrp_server_verifier_cache_entries`: signatures of edges and adverts checked once, then remembered;
 * - `nrp_server_verdicts{rating}` in the served snapshot, `nrp_server_snapshot_seq`,
 *   `nrp_server_snapshot_issued_timestamp_seconds`, `nrp_server_snapshots_issued_total`;
 * - `nrp_server_inference_duration_seconds`, `nrp_server_inference_sightings{state}` of the last pass;
 * - `nrp_server_stored_rows{table}`, `nrp_server_tips{status}`, `nrp_server_connections`,
 *   `nrp_server_list_version`, `nrp_server_list_entries`;
 * - and Node's default process metrics.
 *
 * Counters and the histograms are fed by events; the rest is read when scraped.
 *
 * @example
 * const metrics = new ServerMetrics({ intake: server.intake, store: server.store, server });
 * const text = await metrics.text(); // or serve metricsRoutes(metrics)
 */
export class ServerMetrics {
  readonly registry = new Registry();
  readonly #components: ServerMetricsComponents;
  readonly #accepted: Counter;
  readonly #rejected: Counter<'reason'>;
  readonly #edges: Counter;
  readonly #sightings: Counter;
  readonly #processing: Histogram;
  readonly #inferenceDuration: Histogram;
  readonly #inferenceSightings: Gauge<'state'>;
  readonly #snapshotsIssued: Counter;
  #stats?: { at: number; stats: ServerStoreStats };
  #counted?: { snapshot?: object; counts: Record<Rating, number> };
  #stopped = false;

  constructor(components: ServerMetricsComponents, init: ServerMetricsInit = {}) {
    this.#components = components;
    const prefix = init.prefix ?? 'nrp_server_';
    const registers = [this.registry];
    const { intake, store, server } = components;

    this.#accepted = new Counter({
      name: `${prefix}reports_accepted_total`,
      help: 'Reports verified, stored and acknowledged',
      registers,
    });
    this.#rejected = new Counter({
      name: `${prefix}reports_rejected_total`,
      help: 'Reports refused, by reason (nothing of them is stored)',
      labelNames: ['reason'],
      registers,
    });
    for (const reason of REJECTION_REASONS) this.#rejected.inc({ reason }, 0);
    this.#edges = new Counter({
      name: `${prefix}report_edges_total`,
      help: 'Edge attestations in accepted reports',
      registers,
    });
    this.#sightings = new Counter({
      name: `${prefix}report_sightings_total`,
      help: 'Sightings in accepted reports',
      registers,
    });
    this.#processing = new Histogram({
      name: `${prefix}report_processing_seconds`,
      help: 'Time from the arrival of an accepted report to its acknowledgement: checks, commit and sync to disk',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
    new Counter({
      name: `${prefix}verifier_cache_hits_total`,
      help: 'Edge attestations and adverts not verified again: verified before, or for another report at once',
      registers,
      collect() {
        this.reset();
        this.inc(intake.verifierStats.cacheHits);
      },
    });
    new Counter({
      name: `${prefix}verifier_verifications_total`,
      help: 'Edge attestations and adverts whose signatures were verified',
      registers,
      collect() {
        this.reset();
        this.inc(intake.verifierStats.cacheMisses);
      },
    });
    new Gauge({
      name: `${prefix}verifier_cache_entries`,
      help: 'Verified edge attestations and adverts remembered',
      registers,
      collect() {
        this.set(intake.verifierStats.cached);
      },
    });

    const verdictCounts = (snapshot?: { verdicts: readonly { rating: Rating }[] }) => this.#verdictCounts(snapshot);
    new Gauge({
      name: `${prefix}verdicts`,
      help: 'Verdicts in the snapshot served to nodes, by rating',
      labelNames: ['rating'],
      registers,
      collect() {
        const counts = verdictCounts(server?.snapshot);
        for (const rating of RATINGS) this.set({ rating }, counts[rating]);
      },
    });
    this.#snapshotsIssued = new Counter({
      name: `${prefix}snapshots_issued_total`,
      help: 'Verdict snapshots signed by this process',
      registers,
    });
    this.#inferenceDuration = new Histogram({
      name: `${prefix}inference_duration_seconds`,
      help: 'Duration of inference passes: evidence read, verdicts inferred, snapshot signed',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.#inferenceSightings = new Gauge({
      name: `${prefix}inference_sightings`,
      help: 'Sightings of the last inference pass: counted, ignored (no edge, self, future, duplicate) or unlisted',
      labelNames: ['state'],
      registers,
    });

    if (store) {
      const stats = () => this.#storeStats(store);
      new Gauge({
        name: `${prefix}stored_rows`,
        help: 'Rows in the store, by table',
        labelNames: ['table'],
        registers,
        collect() {
          const s = stats();
          for (const table of ['reports', 'reporters', 'edges', 'sightings', 'verdictSnapshots'] as const) {
            this.set({ table: snakeCase(table) }, s[table]);
          }
        },
      });
      new Gauge({
        name: `${prefix}tips`,
        help: 'Tip-offs, by status',
        labelNames: ['status'],
        registers,
        collect() {
          for (const [status, count] of Object.entries(stats().tips)) this.set({ status }, count);
        },
      });
    }
    if (server) {
      new Gauge({
        name: `${prefix}snapshot_seq`,
        help: 'Sequence number of the verdict snapshot served',
        registers,
        collect() {
          this.set(server.snapshot?.seq ?? 0);
        },
      });
      new Gauge({
        name: `${prefix}snapshot_issued_timestamp_seconds`,
        help: 'When the served verdict snapshot was signed',
        registers,
        collect() {
          this.set((server.snapshot?.issuedAt ?? 0) / 1000);
        },
      });
      new Gauge({
        name: `${prefix}connections`,
        help: 'Open libp2p connections',
        registers,
        collect() {
          this.set(server.helia.libp2p.getConnections().length);
        },
      });
      new Gauge({
        name: `${prefix}list_version`,
        help: 'Version of the enforced list in force (0 before the first)',
        registers,
        collect() {
          this.set(Number(server.list.current.version));
        },
      });
      new Gauge({
        name: `${prefix}list_entries`,
        help: 'Entries of the enforced list in force',
        registers,
        collect() {
          this.set(server.list.current.count);
        },
      });
    }
    if (init.processMetrics ?? true) collectDefaultMetrics({ register: this.registry });

    intake.addEventListener('accepted', this.#onAccepted);
    intake.addEventListener('rejected', this.#onRejected);
    server?.addEventListener('inference', this.#onInference);
    server?.addEventListener('snapshot', this.#onSnapshot);
  }

  /** The content type of {@link text}, for the HTTP response. */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** Every metric in Prometheus' text format. */
  text(): Promise<string> {
    this.#stats = undefined;
    return this.registry.metrics();
  }

  /** Stops counting events (the registry keeps what it has). */
  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    const { intake, server } = this.#components;
    intake.removeEventListener('accepted', this.#onAccepted);
    intake.removeEventListener('rejected', this.#onRejected);
    server?.removeEventListener('inference', this.#onInference);
    server?.removeEventListener('snapshot', this.#onSnapshot);
  }

  readonly #onAccepted = ({ detail }: CustomEvent<AcceptedReportEvent>) => {
    this.#accepted.inc();
    this.#edges.inc(detail.report.edges.length);
    this.#sightings.inc(detail.report.sightings.length);
    this.#processing.observe(detail.durationMs / 1000);
  };

  readonly #onRejected = ({ detail }: CustomEvent<RejectedReportEvent>) => {
    this.#rejected.inc({ reason: detail.reason });
  };

  readonly #onInference = ({ detail }: CustomEvent<InferenceOutcome>) => {
    this.#inferenceDuration.observe(detail.durationMs / 1000);
    for (const [state, count] of Object.entries(detail.sightings)) this.#inferenceSightings.set({ state }, count);
  };

  readonly #onSnapshot = () => {
    this.#snapshotsIssued.inc();
  };

  /** The served snapshot's verdicts by rating, counted once per snapshot. */
  #verdictCounts(snapshot?: { verdicts: readonly { rating: Rating }[] }): Record<Rating, number> {
    if (this.#counted === undefined || this.#counted.snapshot !== snapshot) {
      const counts: Record<Rating, number> = { white: 0, gray: 0, black: 0 };
      for (const verdict of snapshot?.verdicts ?? []) counts[verdict.rating]++;
      this.#counted = { snapshot, counts };
    }
    return this.#counted.counts;
  }

  /** The store's counts, read once per scrape (and at most once a second by other readers of the registry). */
  #storeStats(store: Pick<ServerStore, 'stats'>): ServerStoreStats {
    const now = Date.now();
    if (this.#stats === undefined || now - this.#stats.at > 1000) this.#stats = { at: now, stats: store.stats() };
    return this.#stats.stats;
  }
}

/**
 * `GET /metrics`: the metrics in Prometheus' text format, for a scraper on the operator's side (the HTTP API
 * listens on 127.0.0.1 only).
 *
 * @example
 * await startHttpApi([...metricsRoutes(server.metrics)], { port: 8080 });
 */
export function metricsRoutes(metrics: ServerMetrics): HttpRoute[] {
  return [
    {
      method: 'GET',
      path: '/metrics',
      handle: async () => rawResponse({ contentType: metrics.contentType, body: await metrics.text() }),
    },
  ];
}

function snakeCase(name: string): string {
  return name.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`);
}
