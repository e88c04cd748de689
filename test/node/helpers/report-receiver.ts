import type { Libp2p } from '@libp2p/interface';
import { type Report, SequenceTracker } from '../../../src/node/protocol/index.js';
import { decodeReport, verifyReport } from '../../../src/node/protocol/report.js';
import { encodeReportAck, REPORT_PROTOCOL, type ReportAck } from '../../../src/node/reporter.js';
import { handleRequests } from '../../../src/node/rpc.js';

export interface ReportReceiverOptions {
  /** Starts from this tracker, e.g. one that already accepted high sequence numbers. */
  tracker?: SequenceTracker;
  /** Refuses a report that verified with this reason, as a server's policy may. */
  refuse?: (report: Report) => string | undefined;
  /** Accepts this many reports but never answers them, as if the ack was lost on the way. */
  loseAcks?: number;
}

/**
 * A minimal rating server's intake, built on the real protocol code: it
 * decodes and verifies each report (signature, reporter, edges, sightings),
 * refuses replayed sequence numbers with a `SequenceTracker`, records what it
 * accepted, and answers with an ack.
 */
export class ReportReceiver {
  readonly tracker: SequenceTracker;
  /** Reports accepted, in arrival order. */
  readonly accepted: Report[] = [];
  /** Reports refused, with the reason sent back. */
  readonly refused: ReportAck[] = [];
  readonly #options: ReportReceiverOptions;
  #loseAcks: number;

  private constructor(options: ReportReceiverOptions) {
    this.#options = options;
    this.tracker = options.tracker ?? new SequenceTracker();
    this.#loseAcks = options.loseAcks ?? 0;
  }

  static async start(libp2p: Libp2p, options: ReportReceiverOptions = {}): Promise<ReportReceiver> {
    const receiver = new ReportReceiver(options);
    await handleRequests(libp2p, REPORT_PROTOCOL, (message, { remotePeer }) => receiver.#receive(message, remotePeer), {
      maxRequestBytes: 1 << 20,
    });
    return receiver;
  }

  async #receive(message: Uint8Array, remotePeer: Libp2p['peerId']): Promise<Uint8Array> {
    // Undecodable: there is no sequence number to answer to, so the stream is reset.
    const report = decodeReport(message);
    const refuse = (reason: string) => {
      const ack = { seq: report.seq, accepted: false, reason };
      this.refused.push(ack);
      return encodeReportAck(ack);
    };
    try {
      await verifyReport(report, { reporter: remotePeer });
      this.tracker.check(report.reporter, report.seq);
    } catch (error) {
      return refuse(`${(error as Error).name}: ${(error as Error).message}`);
    }
    const policy = this.#options.refuse?.(report);
    if (policy) return refuse(policy);
    this.tracker.accept(report.reporter, report.seq);
    this.accepted.push(report);
    if (this.#loseAcks > 0) {
      this.#loseAcks--;
      throw new Error('ack lost');
    }
    return encodeReportAck({ seq: report.seq, accepted: true });
  }
}
