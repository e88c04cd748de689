import { ReplayedSequenceError } from './errors.js';
import { type PeerLike, peerIdToString, toPeerIdBytes } from './peer.js';

/**
 * The last sequence number accepted from each sender (reporters for a server,
 * servers for a node), so a replayed or reordered report or verdict is
 * refused. Pure state: the owner persists {@link SequenceTracker.toJSON} after
 * each accept and restores it with {@link SequenceTracker.fromJSON}.
 *
 * @example
 * const tracker = SequenceTracker.fromJSON(await readJson(path));
 * await verifyReport(report);
 * tracker.accept(report.reporter, report.seq); // throws ReplayedSequenceError on a replay
 * await writeJson(path, tracker.toJSON());
 */
export class SequenceTracker {
  readonly #last = new Map<string, number>();

  /** Starts from `last`, sender (peer id string) → last accepted sequence number. */
  constructor(last: Iterable<readonly [string, number]> = []) {
    for (const [sender, seq] of last) this.#last.set(keyOf(sender), checkSeq(seq));
  }

  /** Restores a tracker from {@link SequenceTracker.toJSON}'s output. */
  static fromJSON(json: Record<string, number>): SequenceTracker {
    return new SequenceTracker(Object.entries(json));
  }

  /** The last sequence number accepted from `sender`, if any. */
  last(sender: PeerLike): number | undefined {
    return this.#last.get(keyOf(sender));
  }

  /** Throws {@link ReplayedSequenceError} unless `seq` is above the last one accepted from `sender`. */
  check(sender: PeerLike, seq: number): void {
    checkSeq(seq);
    const key = keyOf(sender);
    const last = this.#last.get(key);
    if (last !== undefined && seq <= last) {
      throw new ReplayedSequenceError(
        `Sequence number ${seq} from ${key} is not above the last one accepted, ${last}`,
        seq,
        last,
      );
    }
  }

  /** Checks `seq` and records it as the last accepted from `sender`. Call it only after the message verified. */
  accept(sender: PeerLike, seq: number): void {
    this.check(sender, seq);
    this.#last.set(keyOf(sender), seq);
  }

  /** Sender (peer id string) → last accepted sequence number, to persist. */
  toJSON(): Record<string, number> {
    return Object.fromEntries(this.#last);
  }
}

/** One key per peer whatever form it was given in. */
function keyOf(sender: PeerLike): string {
  return peerIdToString(toPeerIdBytes(sender));
}

function checkSeq(seq: number): number {
  if (!Number.isSafeInteger(seq) || seq < 0)
    throw new RangeError(`A sequence number must be a safe integer ≥ 0: ${seq}`);
  return seq;
}
