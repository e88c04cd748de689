import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { peerIdFromString } from '@libp2p/peer-id';
import { multiaddr } from '@multiformats/multiaddr';
import type { Hex } from 'viem';
import { getServer, getServerByPeerId } from '../../chain/registry.js';
import { createNrpHelia } from '../../ipfs/helia.js';
import { loadOrCreatePrivateKey } from '../../ipfs/keys.js';
import type { ParsedEntry } from '../../lists/denylist.js';
import { entryId, entryIdToHex, InvalidCidError, ipip383DoubleHash, parseCid } from '../../lists/entry-id.js';
import type { EntryMetadata } from '../../lists/payload.js';
import { loadNodeConfig, NodeConfigError, parseNodeConfig } from '../../node/config.js';
import { ProtocolError } from '../../node/protocol/errors.js';
import { peerIdToString } from '../../node/protocol/peer.js';
import {
  InvalidTipServerError,
  sendTip,
  TipRefusedError,
  type TipServer,
  TipServerUnreachableError,
} from '../../node/tip-sender.js';
import { loadServerConfig, parseServerConfig, ServerConfigError } from '../../server/config.js';
import { type ServerEndpoint, serverEndpointFile } from '../../server/endpoint.js';
import type { RatingServerStatus } from '../../server/server.js';
import { MAX_TIP_LIST_LIMIT, type TipView, tipReference } from '../../server/tips.js';
import { readJsonFile } from '../../utils/json-file.js';
import { NODE_CONFIG, SERVER_CONFIG } from '../commands/tips.js';
import type { CliContext } from '../context.js';
import { CliError } from '../errors.js';
import { printListProposal, proposeListChange } from './list.js';

/** How long `nrp tip` waits for the server's answer. */
const TIP_TIMEOUT_MS = 30_000;

// ─── nrp tip ─────────────────────────────────────────────────────────────────────────────────────────────────

interface TipOptions {
  category: string;
  reason: string;
  server: string;
  config?: string;
}

export async function tip(ctx: CliContext, cidText: string, options: TipOptions) {
  let cid: ReturnType<typeof parseCid>;
  try {
    cid = parseCid(cidText);
  } catch (error) {
    if (error instanceof InvalidCidError) throw new CliError(`Not a CID: ${cidText}`);
    throw error;
  }
  for (const field of ['category', 'reason'] as const) {
    if (options[field].trim() === '') throw new CliError(`--${field} must not be empty.`);
  }
  const server = await resolveTipServer(ctx, options.server);
  const keyFile = join(await nodeDataDir(options.config), 'ipfs', 'peer.key');
  const created = !existsSync(keyFile);
  const privateKey = await loadOrCreatePrivateKey(keyFile).catch((error: Error) => {
    throw new CliError(`Cannot use the key ${keyFile}: ${error.message}`, 1, { cause: error });
  });
  if (created) ctx.output.note(`No node key yet: created ${keyFile}; tips are signed with it from now on.`);
  // A host of its own, in memory, with the node's key: the running node (if any) keeps its stores to itself.
  const helia = await createNrpHelia({ privateKey, listen: [] });
  try {
    const sent = await sendTip(
      helia.libp2p,
      { server, privateKey, cid, category: options.category, reason: options.reason },
      { signal: AbortSignal.timeout(TIP_TIMEOUT_MS) },
    ).catch((error: Error) => {
      if (error instanceof TipRefusedError) {
        throw new CliError(`The server refused the tip: ${error.message}`, 1, { cause: error });
      }
      // A field no server would take (ProtocolError), a server not reached, or not named right.
      if (
        error instanceof ProtocolError ||
        error instanceof TipServerUnreachableError ||
        error instanceof InvalidTipServerError
      ) {
        throw new CliError(error.message, 1, { cause: error });
      }
      if (error.name === 'TimeoutError') {
        throw new CliError(`The tip did not reach the server: no answer within ${TIP_TIMEOUT_MS / 1000} s.`, 1, {
          cause: error,
        });
      }
      throw error;
    });
    const result = {
      id: sent.id,
      duplicate: sent.duplicate,
      server: sent.server,
      sender: peerIdToString(sent.tip.sender),
      cid: cid.toString(),
      category: options.category,
      reason: options.reason,
      time: sent.tip.time,
    };
    ctx.output.result(result, (r) => {
      ctx.output.line(
        r.duplicate
          ? `Rating server ${r.server} had this tip already, as tip ${r.id}.`
          : `Tip ${r.id} sent to rating server ${r.server}: ${r.category} ${r.cid}.`,
      );
      ctx.output.line(`  signed by ${r.sender}; the operator accepts or rejects it.`);
    });
  } finally {
    await helia.stop();
  }
}

/** A registry server id, a peer id (looked up in the registry for its addresses) or a multiaddr. */
async function resolveTipServer(ctx: CliContext, text: string): Promise<TipServer> {
  if (text.startsWith('/')) {
    try {
      multiaddr(text);
    } catch {
      throw new CliError(`Not a multiaddr: ${text}`);
    }
    return { multiaddrs: [text] };
  }
  const client = await ctx.publicClient();
  const registry = await ctx.contract('RatingServerRegistry');
  if (/^\d+$/.test(text)) {
    const server = await getServer(client, { registry, serverId: BigInt(text) }).catch((error: Error) => {
      throw new CliError(
        error.name === 'UnknownServerError' ? `No rating server ${text} in the registry ${registry}.` : error.message,
        1,
        { cause: error },
      );
    });
    if (server.status !== 'active') ctx.output.note(`Rating server ${text} is ${server.status} in the registry.`);
    return { peerId: peerIdToString(server.peerId), multiaddrs: server.multiaddrs };
  }
  let peerId: ReturnType<typeof peerIdFromString>;
  try {
    peerId = peerIdFromString(text);
  } catch {
    throw new CliError(`--server must be a registry server id, a peer id or a multiaddr, not “${text}”.`);
  }
  const server = await getServerByPeerId(client, { registry, peerId: peerId.toMultihash().bytes });
  if (!server) {
    throw new CliError(
      `${text} is not in the registry ${registry}, so its address is unknown: pass a multiaddr ending in /p2p/${text}.`,
    );
  }
  return { peerId: text, multiaddrs: server.multiaddrs };
}

async function nodeDataDir(config: string | undefined): Promise<string> {
  try {
    if (config) return (await loadNodeConfig(config)).dataDir;
    if (existsSync(NODE_CONFIG)) return (await loadNodeConfig(NODE_CONFIG)).dataDir;
    return parseNodeConfig({}).dataDir;
  } catch (error) {
    if (error instanceof NodeConfigError) throw new CliError(error.message);
    throw error;
  }
}

// ─── nrp server tips / propose ───────────────────────────────────────────────────────────────────────────────

interface ServerDirOptions {
  serverDir?: string;
  config?: string;
}

async function serverDataDir(options: ServerDirOptions): Promise<string> {
  if (options.serverDir) return options.serverDir;
  try {
    if (options.config) return (await loadServerConfig(options.config)).dataDir;
    if (existsSync(SERVER_CONFIG)) return (await loadServerConfig(SERVER_CONFIG)).dataDir;
    return parseServerConfig({}).dataDir;
  } catch (error) {
    if (error instanceof ServerConfigError) throw new CliError(error.message);
    throw error;
  }
}

/**
 * Calls the HTTP API of the server running on `serverDir`, with the operator token from its `server.json`.
 * Throws {@link CliError} with the server's own message for a refusal.
 */
async function callServer<T>(
  serverDir: string,
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
  timeoutMs = 30_000,
): Promise<T> {
  let endpoint: ServerEndpoint | undefined;
  try {
    endpoint = await readJsonFile<ServerEndpoint>(serverEndpointFile(serverDir));
  } catch (error) {
    throw new CliError(`Cannot read ${serverEndpointFile(serverDir)}: ${(error as Error).message}`);
  }
  if (!endpoint) {
    throw new CliError(`No rating server has run on ${serverDir}: start it with \`nrp server start\`.`);
  }
  let response: Response;
  try {
    response = await fetch(`${endpoint.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${endpoint.token}`,
        ...(body !== undefined && { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (error) {
    throw new CliError(
      `The rating server of ${serverDir} (pid ${endpoint.pid}) does not answer at ${endpoint.url}; is it running?`,
      1,
      { cause: error },
    );
  }
  const result = (await response.json().catch(() => ({}))) as T & { error?: string };
  if (!response.ok) throw new CliError(result.error ?? `The server answered HTTP ${response.status}`);
  return result;
}

const STATUSES = ['pending', 'accepted', 'rejected', 'all'];

export async function listTips(ctx: CliContext, options: ServerDirOptions & { status: string; limit: string }) {
  if (!STATUSES.includes(options.status)) {
    throw new CliError(`--status must be one of ${STATUSES.join(', ')}, not “${options.status}”.`);
  }
  if (!/^\d+$/.test(options.limit) || Number(options.limit) < 1 || Number(options.limit) > MAX_TIP_LIST_LIMIT) {
    throw new CliError(`--limit must be a whole number from 1 to ${MAX_TIP_LIST_LIMIT}, not “${options.limit}”.`);
  }
  const dir = await serverDataDir(options);
  const query = new URLSearchParams({ limit: options.limit });
  if (options.status !== 'all') query.set('status', options.status);
  const { tips } = await callServer<{ tips: TipView[] }>(dir, 'GET', `/tips?${query}`);
  ctx.output.result({ tips }, () => {
    const out = ctx.output;
    if (tips.length === 0) {
      out.line(options.status === 'all' ? 'No tips yet.' : `No ${options.status} tips.`);
      return;
    }
    for (const tip of tips) printTip(ctx, tip);
    if (options.status === 'pending') out.line('Decide with: nrp server tips accept|reject <id>');
  });
}

function printTip(ctx: CliContext, tip: TipView) {
  const out = ctx.output;
  const state = tip.proposal ? `${tip.status}, in proposal ${tip.proposal}` : tip.status;
  out.line(`Tip ${tip.id} (${state}): ${tip.category} ${tip.cid}`);
  out.line(`  from ${tip.sender}, received ${new Date(tip.receivedAt).toISOString()}`);
  for (const line of tip.reason.split('\n')) out.line(`  “${line}”`);
}

export async function decide(ctx: CliContext, decision: 'accept' | 'reject', id: string, options: ServerDirOptions) {
  if (!/^\d+$/.test(id) || Number(id) === 0) throw new CliError(`Not a tip id: ${id}`);
  const dir = await serverDataDir(options);
  const tip = await callServer<TipView>(dir, 'POST', `/tips/${id}/${decision}`);
  ctx.output.result(tip, () => {
    printTip(ctx, tip);
    if (decision === 'accept') ctx.output.line('Bundle accepted tips into a list proposal with: nrp server propose');
  });
}

interface ProposeTipsOptions extends ServerDirOptions {
  tips?: string[];
  list?: string;
  governor?: string;
  description?: string;
}

export async function proposeTips(ctx: CliContext, options: ProposeTipsOptions) {
  const wanted = options.tips?.map((text) => {
    if (!/^\d+$/.test(text) || Number(text) === 0) throw new CliError(`Not a tip id: ${text}`);
    return Number(text);
  });
  const dir = await serverDataDir(options);
  const status = await callServer<RatingServerStatus>(dir, 'GET', '/status');
  const waiting = await acceptedUnproposed(dir);
  let tips = waiting;
  if (wanted) {
    const missing = wanted.filter((id) => !waiting.some((tip) => tip.id === id));
    if (missing.length > 0) {
      throw new CliError(
        `Tip ${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} not accepted, or in a proposal already: ` +
          'see nrp server tips --status all.',
      );
    }
    tips = waiting.filter((tip) => wanted.includes(tip.id));
  }
  if (tips.length === 0) {
    throw new CliError('No accepted tip waits for a proposal: accept some with `nrp server tips accept <id>`.');
  }
  tips.sort((a, b) => a.id - b.id);
  const { add, entryMetadata } = tipEntries(status.peerId, tips);
  const list = await ctx.contract('IllegalDataList', options.list ?? status.list.address);
  const governor = await ctx.contract('RatingGovernor', options.governor);
  // The server pins every version of its list: fetch the current one from it.
  const helia = await ctx.helia();
  await Promise.allSettled(status.addresses.map((address) => helia.libp2p.dial(multiaddr(address))));

  const reason = [
    `Tip-offs accepted by rating server ${status.peerId}:`,
    ...tips.map((tip) => `- ${tip.cid} (${tip.category}, tip ${tip.id} from ${tip.sender}): ${oneLine(tip.reason)}`),
  ].join('\n');
  const proposal = await proposeListChange(ctx, {
    list,
    governor,
    add,
    remove: [],
    reason,
    entryMetadata,
    description: options.description,
  });
  // The server keeps the payload, fetched from this process: voters inspect it and nodes sync it from there.
  let kept = true;
  try {
    await callServer(dir, 'POST', '/payloads', { cid: proposal.payloadCid.toString() }, 90_000);
  } catch (error) {
    kept = false;
    ctx.output.note(
      `The server did not keep the payload (${(error as Error).message}): run \`nrp ipfs serve\` so that voters ` +
        'and, once the proposal passes, the server and its nodes can fetch it.',
    );
  }
  const ids = tips.map((tip) => tip.id);
  let marked = true;
  try {
    await callServer(dir, 'POST', '/tips/proposed', { ids, proposal: proposal.proposalId.toString() });
  } catch (error) {
    marked = false;
    ctx.output.note(
      `Proposal ${proposal.proposalId} was submitted, but the server did not record its tips as proposed ` +
        `(${(error as Error).message}); they stay accepted, so do not propose them again.`,
    );
  }
  ctx.output.result({ ...proposal, tips: ids, tipsMarked: marked, payloadKept: kept }, () => {
    printListProposal(ctx, proposal);
    ctx.output.line(`Tips ${ids.join(', ')} are in it, each named in its entry’s metadata.`);
    if (kept) ctx.output.line(`Rating server ${status.peerId} keeps the payload for voters and nodes.`);
  });
  if (!marked) throw new CliError('The tips could not be marked as proposed.', 1);
}

/** Every accepted tip not yet in a proposal, page by page. */
async function acceptedUnproposed(dir: string): Promise<TipView[]> {
  const all: TipView[] = [];
  for (let before: number | undefined; ; ) {
    const query = new URLSearchParams({ status: 'accepted', proposed: 'false', limit: String(MAX_TIP_LIST_LIMIT) });
    if (before !== undefined) query.set('before', String(before));
    const { tips } = await callServer<{ tips: TipView[] }>(dir, 'GET', `/tips?${query}`);
    all.push(...tips);
    if (tips.length < MAX_TIP_LIST_LIMIT) return all;
    before = tips[tips.length - 1]?.id;
  }
}

/**
 * One entry per tipped CID, with the tips' metadata: the first tip's category, every distinct reason, and a
 * reference to each tip (`nrp-tip:<server>/<id>/<sender>`).
 */
export function tipEntries(
  server: string,
  tips: readonly TipView[],
): { add: ParsedEntry[]; entryMetadata: Map<Hex, EntryMetadata> } {
  const add: ParsedEntry[] = [];
  const entryMetadata = new Map<Hex, EntryMetadata & { category: string; reason: string; tips: string[] }>();
  for (const tip of tips) {
    const cid = parseCid(tip.cid);
    const id = entryId(cid);
    const hex = entryIdToHex(id);
    const metadata = entryMetadata.get(hex);
    if (!metadata) {
      add.push({ id, form: 'cid', ipip383: ipip383DoubleHash(cid), line: add.length + 1 });
      entryMetadata.set(hex, { category: tip.category, reason: tip.reason, tips: [tipReference(server, tip)] });
      continue;
    }
    if (!metadata.reason.split('\n').includes(tip.reason)) metadata.reason += `\n${tip.reason}`;
    metadata.tips.push(tipReference(server, tip));
  }
  return { add, entryMetadata };
}

function oneLine(text: string, max = 160): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}
