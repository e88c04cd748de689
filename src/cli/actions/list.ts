import { readFile, writeFile } from 'node:fs/promises';
import type { CID } from 'multiformats/cid';
import { type Address, bytesToHex, type Hex } from 'viem';
import { proposeOnce } from '../../chain/governance.js';
import { getListInfo, getListVersion, isListedOnChain, publishVersionCall } from '../../chain/lists.js';
import { pinRoot } from '../../ipfs/pins.js';
import { isBlockUnavailable } from '../../lists/blocks.js';
import { ConflictingChangeError, EmptyChangeError } from '../../lists/change.js';
import { formatDenylist, type ParsedEntry, parseEntryList } from '../../lists/denylist.js';
import {
  entryId,
  entryIdFromHex,
  entryIdToHex,
  InvalidCidError,
  ipip383DoubleHash,
  ipip383LegacyHash,
  parseCid,
} from '../../lists/entry-id.js';
import { MembershipIndex } from '../../lists/membership-index.js';
import { EntryMerkleTree } from '../../lists/merkle.js';
import { buildNextVersion, type NextListVersion } from '../../lists/next-version.js';
import { type DecodedPayload, decodePayload, type EntryMetadata, expectedOnChain } from '../../lists/payload.js';
import type { CliContext } from '../context.js';
import { CliError } from '../errors.js';
import { formatTime } from '../format.js';

interface ListOptions {
  list?: string;
  version?: string;
}

/** Reads a version's payload from IPFS and verifies it against the chain. */
export async function fetchVersion(ctx: CliContext, list: Address, version: bigint | undefined, metadata: boolean) {
  const client = await ctx.publicClient();
  const onChain = await getListVersion(client, { list, version }).catch((error) => {
    throw new CliError((error as Error).message, 1, { cause: error });
  });
  const source = await ctx.blockSource();
  const payload = await ctx.output
    .progress(`Fetching version ${onChain.version}`, (onProgress) =>
      decodePayload(source, onChain.payloadCid, {
        metadata,
        onProgress,
        signal: AbortSignal.timeout(60_000),
        expected: expectedOnChain(onChain, { chainId: client.chain.id, list }),
      }),
    )
    .catch((error) => {
      throw payloadError(error, onChain.payloadCid);
    });
  return { onChain, payload };
}

function payloadError(error: Error, cid: CID): CliError {
  if (error instanceof CliError) return error;
  if (isBlockUnavailable(error)) {
    // With no peer connected at all, the block source has said so already.
    return new CliError(
      `Could not fetch the payload ${cid}: no connected peer sent it. ` +
        'Pass --peer <multiaddr> (or NRP_PEERS) of a node or rating server that pins it.',
      1,
      { cause: error },
    );
  }
  return new CliError(`The payload ${cid} does not match the chain: ${error.name}: ${error.message}`, 3, {
    cause: error,
  });
}

export function parseVersion(text: string | undefined): bigint | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text)) throw new CliError(`--version must be a whole number, not ${text}`);
  return BigInt(text);
}

export async function showList(ctx: CliContext, options: ListOptions & { entries?: boolean }) {
  const list = await ctx.contract('IllegalDataList', options.list);
  const client = await ctx.publicClient();
  const info = await getListInfo(client, { list });
  const version = parseVersion(options.version) ?? info.currentVersion;
  const onChain = version === 0n ? undefined : await getListVersion(client, { list, version }).catch(cliError);
  let payload: DecodedPayload | undefined;
  if (options.entries && onChain) payload = (await fetchVersion(ctx, list, version, true)).payload;
  const entries = payload
    ? Array.from({ length: payload.ids.length / 32 }, (_, i) => {
        const id = entryIdToHex(payload.ids.subarray(i * 32, i * 32 + 32));
        return { id, ...payload.metadata?.get(id) };
      })
    : undefined;
  ctx.output.result({ ...info, version: onChain, entries }, () => {
    const out = ctx.output;
    out.line(`List ${list}`);
    out.line(`  policy:    ${info.policyCid}`);
    out.line(`  executor:  ${info.executor} (timelock)`);
    if (info.parent) out.line(`  fork of:   ${info.parent.list} at version ${info.parent.version}`);
    if (!onChain) {
      out.line('  no version published yet: nothing is listed');
      return;
    }
    out.line(`Version ${onChain.version}${onChain.version === info.currentVersion ? ' (current)' : ''}`);
    out.line(
      `  entries:   ${onChain.count} (+${onChain.added} −${onChain.removed} from version ${onChain.parentVersion})`,
    );
    out.line(`  root:      ${onChain.root}`);
    out.line(`  payload:   ${onChain.payloadCid}`);
    out.line(`  published: ${formatTime(onChain.publishedAt)}`);
    for (const entry of entries ?? []) {
      const facts = [entry.category, entry.reason && `“${entry.reason}”`].filter(Boolean).join(' ');
      out.line(`  ${entry.id}${facts ? `  ${facts}` : ''}`);
    }
  });
}

export async function checkEntry(ctx: CliContext, item: string, options: ListOptions) {
  const list = await ctx.contract('IllegalDataList', options.list);
  let ids: { form: string; id: Uint8Array }[];
  let cid: CID | undefined;
  if (item.startsWith('0x')) {
    ids = [{ form: 'entry id', id: parseEntryIdArgument(item) }];
  } else {
    try {
      cid = parseCid(item);
    } catch (error) {
      if (error instanceof InvalidCidError) throw new CliError(`Not a CID or an entry id: ${item}`);
      throw error;
    }
    ids = [
      { form: 'entry id', id: entryId(cid) },
      { form: 'IPIP-383 double hash', id: ipip383DoubleHash(cid) },
      { form: 'IPIP-383 legacy hash', id: ipip383LegacyHash(cid) },
    ];
  }
  const client = await ctx.publicClient();
  const { currentVersion } = await getListInfo(client, { list });
  const version = parseVersion(options.version) ?? currentVersion;
  let result: { listed: boolean; version: bigint; entryId?: string; form?: string; provedOnChain?: boolean } = {
    listed: false,
    version,
  };
  if (version > 0n) {
    const { payload } = await fetchVersion(ctx, list, version, false);
    const index = MembershipIndex.fromSortedIds(payload.ids, { doubleHashes: payload.header.doubleHashes });
    const match = ids.find((candidate) => index.has(candidate.id));
    if (match) {
      // The payload is verified against the on-chain root already; the proof shows it to anyone, on chain.
      const tree = await ctx.output.progress('Building the Merkle proof', (onProgress) =>
        EntryMerkleTree.build(payload.ids, { onProgress }),
      );
      const proof = (tree.proof(match.id) ?? []).map((node) => bytesToHex(node));
      const provedOnChain = await isListedOnChain(client, {
        list,
        entryId: entryIdToHex(match.id),
        proof,
        version,
      });
      result = { listed: true, version, entryId: entryIdToHex(match.id), form: match.form, provedOnChain };
    }
  }
  ctx.output.result({ item, cid: cid?.toString(), list, ...result }, (r) => {
    if (r.version === 0n) ctx.output.line(`Not listed: list ${list} has no version yet.`);
    else if (!r.listed) ctx.output.line(`Not listed in version ${r.version} of list ${list}.`);
    else {
      ctx.output.line(`LISTED in version ${r.version} of list ${list}, as ${r.form} ${r.entryId}.`);
      ctx.output.line(
        r.provedOnChain
          ? '  The Merkle proof verifies on chain (IllegalDataList.isListedAt).'
          : '  WARNING: the on-chain proof check failed; the payload and the chain disagree.',
      );
    }
  });
}

function parseEntryIdArgument(text: string): Uint8Array {
  try {
    return entryIdFromHex(text);
  } catch (error) {
    throw new CliError((error as Error).message, 1, { cause: error });
  }
}

interface ProposeOptions extends ListOptions {
  governor?: string;
  add?: string;
  remove?: string;
  category?: string;
  reason?: string;
  tip?: string[];
  description?: string;
}

export async function readEntries(ctx: CliContext, path: string | undefined, what: string): Promise<ParsedEntry[]> {
  if (!path) return [];
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new CliError(`Cannot read ${path}: ${(error as NodeJS.ErrnoException).code}`, 1, { cause: error });
  }
  let parsed: ReturnType<typeof parseEntryList>;
  try {
    parsed = parseEntryList(text);
  } catch (error) {
    throw new CliError(`${path}: ${(error as Error).message}`, 1, { cause: error });
  }
  for (const skip of parsed.skipped) ctx.output.note(`${path}:${skip.line}: skipped “${skip.text}”: ${skip.reason}`);
  if (parsed.entries.length === 0) throw new CliError(`${path} names no entries to ${what}.`);
  return parsed.entries;
}

export async function proposeChange(ctx: CliContext, options: ProposeOptions) {
  if (!options.add && !options.remove)
    throw new CliError('Nothing to propose: pass --add <file> and/or --remove <file>.');
  const list = await ctx.contract('IllegalDataList', options.list);
  const governor = await ctx.contract('RatingGovernor', options.governor);
  const add = await readEntries(ctx, options.add, 'add');
  const remove = await readEntries(ctx, options.remove, 'remove');
  const { category, reason, tip: tips, description } = options;
  const result = await proposeListChange(ctx, { list, governor, add, remove, category, reason, tips, description });
  ctx.output.result(result, () => printListProposal(ctx, result));
}

/** A change to propose: what `nrp list propose` and `nrp server propose` submit. */
export interface ListChangeProposal {
  list: Address;
  governor: Address;
  add: ParsedEntry[];
  remove: ParsedEntry[];
  /** Metadata of every added entry. */
  category?: string;
  reason?: string;
  tips?: string[];
  /** Metadata of some added entries, by entry id hex, over `category`, `reason` and `tips`. */
  entryMetadata?: ReadonlyMap<Hex, EntryMetadata>;
  /** The proposal text; default: a summary of the change and the reason. */
  description?: string;
}

/**
 * Builds the next version (the current one ± entries), pins its payload in the user's data dir, and proposes
 * `publishVersion` through the Governor. Notes on stderr what is listed already or not listed.
 */
export async function proposeListChange(ctx: CliContext, options: ListChangeProposal) {
  const { list, governor, add, remove } = options;
  const client = await ctx.publicClient();
  const { currentVersion } = await getListInfo(client, { list });

  let current: DecodedPayload | undefined;
  if (currentVersion > 0n) current = (await fetchVersion(ctx, list, currentVersion, true)).payload;
  const helia = await ctx.helia();
  let next: NextListVersion;
  try {
    next = await ctx.output.progress('Computing the Merkle root', (onProgress) =>
      buildNextVersion(
        helia.blockstore,
        {
          chainId: client.chain.id,
          list,
          currentVersion,
          current,
          add,
          remove,
          category: options.category,
          reason: options.reason,
          tips: options.tips,
          entryMetadata: options.entryMetadata,
          description: options.description,
        },
        { onProgress },
      ),
    );
  } catch (error) {
    if (error instanceof ConflictingChangeError || error instanceof EmptyChangeError) {
      throw new CliError(error.message, 1, { cause: error });
    }
    throw error;
  }
  const { change, payload: encoded, description } = next;
  const { count, added, removed } = next.call;
  const version = currentVersion + 1n;
  for (const entry of change.alreadyListed) ctx.output.note(`already listed, not added: ${entryIdToHex(entry.id)}`);
  for (const entry of change.notListed) ctx.output.note(`not listed, not removed: ${entryIdToHex(entry.id)}`);
  await pinRoot(helia, encoded.cid);

  const wallet = await ctx.walletClient();
  const call = publishVersionCall(list, next.call);
  // The same change proposed again (a rerun after a crash) finds the first proposal rather than reverting.
  const proposed = await proposeOnce(wallet, { governor, calls: [call], description }).catch(cliError);
  if (!proposed.submitted) ctx.output.note(`this exact proposal exists already: ${proposed.proposalId}`);
  return {
    proposalId: proposed.proposalId,
    /** The transaction that submitted it; undefined when it had been submitted before. */
    transaction: proposed.transaction?.hash,
    alreadyProposed: !proposed.submitted,
    proposer: wallet.account.address,
    list,
    parentVersion: currentVersion,
    version,
    count,
    added,
    removed,
    payloadCid: encoded.cid,
    blocks: encoded.blocks,
    description,
  };
}

export type ListProposalResult = Awaited<ReturnType<typeof proposeListChange>>;

/** Tells people about a proposal {@link proposeListChange} submitted, and what voters do next. */
export function printListProposal(ctx: CliContext, r: ListProposalResult) {
  const out = ctx.output;
  out.line(`Proposal ${r.proposalId}`);
  out.line(
    r.transaction ? `  submitted in ${r.transaction} by ${r.proposer}` : '  submitted before, by an earlier run',
  );
  out.line(
    `  list ${r.list}: version ${r.parentVersion} → ${r.version}, +${r.added} −${r.removed} (${r.count} entries)`,
  );
  out.line(`  payload ${r.payloadCid} (${r.blocks} blocks), pinned in ${ctx.dataDir()}`);
  out.line('');
  out.line(`Voters inspect it with:  nrp proposal inspect ${r.proposalId}`);
  out.line(`and vote with:           nrp vote ${r.proposalId} for|against|abstain --reason "…"`);
  out.line('Keep the payload reachable while the vote runs: nrp ipfs serve');
}

export async function exportList(ctx: CliContext, options: ListOptions & { out?: string }) {
  const list = await ctx.contract('IllegalDataList', options.list);
  const { onChain, payload } = await fetchVersion(ctx, list, parseVersion(options.version), true);
  const entries = Array.from({ length: payload.ids.length / 32 }, (_, i) => {
    const id = payload.ids.slice(i * 32, i * 32 + 32);
    const meta = payload.metadata?.get(entryIdToHex(id));
    return { id, form: meta?.form, ipip383: meta?.ipip383 };
  });
  const denylist = formatDenylist(entries, {
    name: `Node Rating P2P list ${list} version ${onChain.version}`,
    description: `Exported from chain ${payload.header.chainId}; payload ${onChain.payloadCid}`,
  });
  if (options.out) await writeFile(options.out, denylist.text);
  else if (!ctx.output.json) ctx.output.stdout.write(denylist.text);
  const summary = `${denylist.written} of ${entries.length} entries exported; ${denylist.unexportable.length} were added by entry id, so no denylist rule can name them.`;
  if (ctx.output.json)
    ctx.output.result({ ...denylist, unexportable: denylist.unexportable.map(entryIdToHex) }, () => {});
  else ctx.output.note(summary);
}

function cliError(error: Error): never {
  throw new CliError(error.message, 1, { cause: error });
}
