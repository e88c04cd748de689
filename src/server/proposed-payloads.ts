import type { AbortOptions } from '@libp2p/interface';
import { logger } from '@libp2p/logger';
import { TypedEventEmitter } from 'main-event';
import type { CID } from 'multiformats/cid';
import { type Address, type Hex, isAddressEqual } from 'viem';
import {
  type CreatedProposal,
  getCreatedProposals,
  getProposalState,
  type ProposalState,
} from '../chain/governance.js';
import { decodePublishVersion, type PublishVersionParameters } from '../chain/lists.js';
import { LogFollower } from '../chain/log-follower.js';
import type { LogPosition } from '../chain/logs.js';
import type { ReadClient } from '../chain/transactions.js';
import { isBlockUnavailable } from '../lists/blocks.js';
import { type OnChainVersion, PayloadError, type PayloadHeader } from '../lists/payload.js';
import { PollingLoop } from '../utils/polling-loop.js';

const log = logger('nrp:server:proposals');

/** Default milliseconds between reads of the Governor's new proposals. */
export const DEFAULT_PROPOSAL_POLL_INTERVAL_MS = 15_000;

/** Default milliseconds one attempt to fetch a proposed payload may take. */
export const DEFAULT_PROPOSED_PAYLOAD_TIMEOUT_MS = 30_000;

/** Default most entries a proposed version may have for this server to fetch it: 320 MB of entry ids. */
export const DEFAULT_MAX_PROPOSED_ENTRIES = 10_000_000;

/**
 * States in which a proposal can still change the list, so its payload is worth keeping. A defeated, canceled or
 * expired one never will; an executed one is the list's version now, which the list sync keeps.
 */
const LIVE_STATES: ReadonlySet<ProposalState> = new Set(['pending', 'active', 'succeeded', 'queued']);

/** Where a proposed payload stands on this server. */
export type ProposedPayloadStatus = 'waiting' | 'kept' | 'refused';

/** A list version proposed to the Governor for this server's list, and whether this server keeps its payload. */
export interface ProposedPayload {
  proposalId: bigint;
  /** Which call of the proposal publishes the version, from 0. */
  call: number;
  cid: CID;
  /** What the proposal would publish: the payload must match it. */
  proposed: OnChainVersion;
  status: ProposedPayloadStatus;
  /** Attempts to fetch it so far. */
  attempts: number;
  /** Why the last attempt failed, or why the payload was refused. */
  error?: string;
  /** Where the proposal was created. */
  created: LogPosition;
}

export interface ProposedPayloadsInit {
  /** The Governor whose proposals publish versions of `list`. */
  governor: Address;
  /** This server's list: only proposals that call its `publishVersion` are followed. */
  list: Address;
  /** The deployment's first block. */
  fromBlock: bigint;
  /** Blocks a proposal must be buried under before it is read. Default 0. */
  confirmations?: number;
  /** Default {@link DEFAULT_PROPOSAL_POLL_INTERVAL_MS}. */
  pollIntervalMs?: number;
  /** Default {@link DEFAULT_PROPOSED_PAYLOAD_TIMEOUT_MS}. */
  fetchTimeoutMs?: number;
  /**
   * A proposal whose version has more entries is refused unfetched: proposing takes only the proposal threshold,
   * not a vote, so this bounds what one proposal can make the server store. Default
   * {@link DEFAULT_MAX_PROPOSED_ENTRIES}. A version that passes is synced whatever its size.
   */
  maxEntries?: number;
  maxBlockRange?: bigint;
}

export interface ProposedPayloadsComponents {
  client: ReadClient;
  /**
   * Fetches a payload whole, checks it is this server's list's and matches the version proposed, and pins it:
   * `RatingServer.keepPayload`.
   */
  keep: (cid: CID, options: AbortOptions & { proposed?: OnChainVersion }) => Promise<PayloadHeader>;
}

export interface ProposedPayloadsEvents {
  /** A proposed payload was fetched and pinned. */
  kept: CustomEvent<ProposedPayload>;
  /** A proposed payload is not this list's, or is malformed: it is not fetched again. */
  refused: CustomEvent<ProposedPayload>;
}

/**
 * Keeps the payloads of list versions proposed for this server's list while the vote runs. A proposer's payload
 * is otherwise only on the proposer's own machine until the version takes effect, so voters could not inspect
 * it, and nodes could not fetch it, once the proposer went offline. Reading the Governor's ProposalCreated events,
 * it fetches each `publishVersion` payload for this list from the connected peers and pins it, and tries again on
 * every poll while the payload is missing and the proposal is live. Only proposals on chain are followed: making
 * one takes the Governor's proposal threshold, so nobody can make a server pin arbitrary data for free.
 *
 * @example
 * const proposals = new ProposedPayloads(
 *   { governor, list, fromBlock },
 *   { client, keep: (cid, options) => server.keepPayload(cid, options) },
 * );
 * proposals.addEventListener('kept', ({ detail }) => console.log(`kept ${detail.cid}`));
 * await proposals.start();
 */
export class ProposedPayloads extends TypedEventEmitter<ProposedPayloadsEvents> {
  readonly #init: ProposedPayloadsInit;
  readonly #components: ProposedPayloadsComponents;
  readonly #follower: LogFollower<CreatedProposal & LogPosition>;
  /** Live proposals' payloads, by proposal id and call. */
  readonly #payloads = new Map<string, ProposedPayload>();
  readonly #loop = new PollingLoop();
  #polling: Promise<unknown> = Promise.resolve();

  constructor(init: ProposedPayloadsInit, components: ProposedPayloadsComponents) {
    super();
    this.#init = init;
    this.#components = components;
    const { governor, fromBlock, confirmations, maxBlockRange } = init;
    this.#follower = new LogFollower(components.client, {
      fromBlock,
      confirmations,
      fetchLogs: async (range) =>
        (await getCreatedProposals(components.client, { governor, ...range, maxBlockRange })).map((proposal) => ({
          ...proposal,
          ...proposal.created,
        })),
    });
  }

  /** The payloads of live proposals for this list, oldest proposal first. */
  get payloads(): ProposedPayload[] {
    return [...this.#payloads.values()].map((payload) => ({ ...payload }));
  }

  /** Polls now, then every `pollIntervalMs`, until {@link stop}. A failed poll is logged and retried. */
  async start(options: AbortOptions = {}): Promise<void> {
    await this.#loop.start((signal) => this.poll({ signal }), {
      intervalMs: this.#init.pollIntervalMs ?? DEFAULT_PROPOSAL_POLL_INTERVAL_MS,
      onError: (error) => log.error('could not read the proposals of %s: %e', this.#init.governor, error),
      signal: options.signal,
    });
  }

  async stop(): Promise<void> {
    await this.#loop.stop();
    await this.#polling;
  }

  /**
   * Reads the proposals created since the last poll, forgets those no longer live, and tries to fetch every
   * payload still missing. Polls run one at a time.
   */
  poll(options: AbortOptions = {}): Promise<ProposedPayload[]> {
    const run = this.#polling.then(() => this.#poll(options));
    this.#polling = run.catch(() => {});
    return run;
  }

  async #poll(options: AbortOptions): Promise<ProposedPayload[]> {
    const { reorgedFrom, logs } = await this.#follower.poll(options);
    if (reorgedFrom !== undefined) {
      // Proposals from those blocks are read again if they are still on chain.
      for (const [key, payload] of this.#payloads) {
        if (payload.created.blockNumber >= reorgedFrom) this.#payloads.delete(key);
      }
    }
    for (const proposal of logs) this.#add(proposal);
    for (const [key, payload] of this.#payloads) {
      options.signal?.throwIfAborted();
      const { governor } = this.#init;
      const state = await getProposalState(this.#components.client, { governor, proposalId: payload.proposalId });
      if (!LIVE_STATES.has(state)) {
        log('proposal %s is %s: no longer keeping an eye on its payload %c', payload.proposalId, state, payload.cid);
        this.#payloads.delete(key);
      } else if (payload.status === 'waiting') {
        await this.#fetch(payload, options);
      }
    }
    return this.payloads;
  }

  /** Notes each `publishVersion` call of `proposal` to this server's list. */
  #add(proposal: CreatedProposal) {
    proposal.targets.forEach((target, call) => {
      if (!isAddressEqual(target, this.#init.list)) return;
      let published: PublishVersionParameters;
      try {
        published = decodePublishVersion(proposal.calldatas[call] as Hex);
      } catch {
        // Another call to the list (a role change, say), or a payload CID that is not a CID: nothing to fetch.
        return;
      }
      const key = `${proposal.proposalId}/${call}`;
      if (this.#payloads.has(key)) return;
      const { payloadCid: cid, root, count, parentVersion } = published;
      log('proposal %s publishes a version of %s with payload %c', proposal.proposalId, this.#init.list, cid);
      this.#payloads.set(key, {
        proposalId: proposal.proposalId,
        call,
        cid,
        proposed: { root, count, version: parentVersion + 1n },
        status: 'waiting',
        attempts: 0,
        created: proposal.created,
      });
    });
  }

  async #fetch(payload: ProposedPayload, options: AbortOptions) {
    const maxEntries = this.#init.maxEntries ?? DEFAULT_MAX_PROPOSED_ENTRIES;
    if (payload.proposed.count > maxEntries) {
      const { count } = payload.proposed;
      this.#refuse(payload, `the version has ${count} entries, more than the ${maxEntries} this server keeps unvoted`);
      return;
    }
    payload.attempts++;
    const timeout = AbortSignal.timeout(this.#init.fetchTimeoutMs ?? DEFAULT_PROPOSED_PAYLOAD_TIMEOUT_MS);
    const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
    try {
      await this.#components.keep(payload.cid, { signal, proposed: payload.proposed });
      payload.status = 'kept';
      payload.error = undefined;
      log('kept payload %c of proposal %s (version %d)', payload.cid, payload.proposalId, payload.proposed.version);
      this.safeDispatchEvent('kept', { detail: { ...payload } });
    } catch (error) {
      options.signal?.throwIfAborted();
      const reason = `${(error as Error).name}: ${(error as Error).message}`;
      payload.error = reason;
      if (error instanceof PayloadError) {
        this.#refuse(payload, reason);
      } else if (isBlockUnavailable(error) || timeout.aborted) {
        log('payload %c of proposal %s is not available yet', payload.cid, payload.proposalId);
      } else {
        log.error('could not keep payload %c of proposal %s: %e', payload.cid, payload.proposalId, error);
      }
    }
  }

  /** Not fetched again while its proposal lives. */
  #refuse(payload: ProposedPayload, reason: string) {
    payload.status = 'refused';
    payload.error = reason;
    log('refused payload %c of proposal %s: %s', payload.cid, payload.proposalId, reason);
    this.safeDispatchEvent('refused', { detail: { ...payload } });
  }
}
