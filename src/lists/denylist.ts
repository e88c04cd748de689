import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { base58btc } from 'multiformats/bases/base58';
import * as Digest from 'multiformats/hashes/digest';
import { sha256 } from 'multiformats/hashes/sha2';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import {
  compareIds,
  type EntryId,
  entryId,
  entryIdFromHex,
  InvalidCidError,
  ipip383DoubleHash,
  parseCid,
} from './entry-id.js';

/**
 * How an entry was named where it came from:
 * - `cid`: a CID, so its entry id was computed here;
 * - `entry-id`: a `0x…` entry id;
 * - `ipip383`: an IPIP-383 `//<multihash>` rule, whose sha256 digest is the id;
 * - `ipip383-legacy`: an IPIP-383 legacy `//<64 hex>` ("badbits") rule.
 */
export type EntryForm = 'cid' | 'entry-id' | 'ipip383' | 'ipip383-legacy';

export interface ParsedEntry {
  id: EntryId;
  form: EntryForm;
  /** The IPIP-383 double hash, known when the entry was given as a CID; lets the list be exported as a denylist. */
  ipip383?: Uint8Array;
  /** 1-based line number in the source. */
  line: number;
}

export interface SkippedLine {
  line: number;
  text: string;
  reason: string;
}

/** The YAML header of an IPIP-383 denylist, when there is one. */
export interface DenylistHeader {
  version?: number;
  name?: string;
  description?: string;
  author?: string;
  hints?: Record<string, unknown>;
  [key: string]: unknown;
}

export interface ParsedEntryList {
  entries: ParsedEntry[];
  skipped: SkippedLine[];
  header?: DenylistHeader;
}

export class DenylistHeaderError extends Error {
  override name = 'DenylistHeaderError';
}

/**
 * Parses a file of entries to add to or remove from a list. Each line holds a
 * CID, a `0x` entry id, or an IPIP-383 compact denylist rule (an optional YAML
 * header ends at a `---` line). Only rules that name whole content items can
 * become entries: `/ipfs/<cid>`, `//<sha2-256 multihash>` and legacy
 * `//<64 hex>`. Path, IPNS and wildcard rules are returned in `skipped` with a
 * reason. `!rule` lines undo an earlier rule. Duplicates are kept once.
 *
 * @example
 * const { entries, skipped } = parseEntryList(await readFile('badbits.deny', 'utf8'));
 */
export function parseEntryList(text: string): ParsedEntryList {
  const lines = text.split(/\r?\n/);
  const separator = lines.findIndex((l) => l.trim() === '---');
  let header: DenylistHeader | undefined;
  let first = 0;
  if (separator >= 0) {
    header = parseHeader(lines.slice(0, separator).join('\n'));
    first = separator + 1;
  }
  const hashFn = header?.hints?.double_hash_fn;
  const doubleHashSupported = hashFn === undefined || hashFn === 'sha256' || hashFn === 'sha2-256';

  const byId = new Map<string, ParsedEntry>();
  const skipped: SkippedLine[] = [];
  for (let i = first; i < lines.length; i++) {
    const text = lines[i].trim();
    if (text === '' || text.startsWith('#')) continue;
    const negated = text.startsWith('!');
    const rule = negated ? text.slice(1).trim() : text;
    const result = parseRule(rule, doubleHashSupported);
    if ('reason' in result) {
      skipped.push({ line: i + 1, text, reason: result.reason });
      continue;
    }
    const key = bytesToHex(result.id);
    if (negated) byId.delete(key);
    else if (!byId.has(key)) byId.set(key, { ...result, line: i + 1 });
  }
  const entries = [...byId.values()].sort((a, b) => compareIds(a.id, b.id));
  return { entries, skipped, header };
}

function parseHeader(yaml: string): DenylistHeader {
  try {
    const header = parseYaml(yaml) ?? {};
    if (typeof header !== 'object' || Array.isArray(header)) throw new Error('the header is not a YAML mapping');
    return header as DenylistHeader;
  } catch (err) {
    throw new DenylistHeaderError(`Invalid denylist header: ${(err as Error).message}`, { cause: err });
  }
}

function parseRule(rule: string, doubleHashSupported: boolean): Omit<ParsedEntry, 'line'> | { reason: string } {
  if (rule.startsWith('//')) {
    if (!doubleHashSupported) return { reason: 'double hashes other than sha256 are not supported' };
    return parseDoubleHash(rule.slice(2));
  }
  if (rule.startsWith('/ipns/')) return { reason: 'IPNS rules name a name, not content' };
  if (rule.startsWith('/ipfs/')) {
    const [cid, ...path] = rule.slice('/ipfs/'.length).split('/');
    if (path.length > 0 || cid.includes('*')) return { reason: 'path and wildcard rules are not supported' };
    return fromCid(cid);
  }
  if (rule.startsWith('0x')) {
    try {
      return { id: entryIdFromHex(rule), form: 'entry-id' };
    } catch (err) {
      return { reason: (err as Error).message };
    }
  }
  return fromCid(rule.split(/\s+/)[0]);
}

function fromCid(text: string): Omit<ParsedEntry, 'line'> | { reason: string } {
  try {
    const cid = parseCid(text);
    return { id: entryId(cid), form: 'cid', ipip383: ipip383DoubleHash(cid) };
  } catch (err) {
    if (err instanceof InvalidCidError) return { reason: 'not a CID, entry id or IPIP-383 rule' };
    throw err;
  }
}

function parseDoubleHash(hash: string): Omit<ParsedEntry, 'line'> | { reason: string } {
  if (/^[0-9a-fA-F]{64}$/.test(hash)) return { id: hexToBytes(hash.toLowerCase()), form: 'ipip383-legacy' };
  let digest: ReturnType<typeof Digest.decode>;
  try {
    digest = Digest.decode(base58btc.baseDecode(hash));
  } catch {
    return { reason: 'not a base58btc multihash or 64 hex digits' };
  }
  if (digest.code !== sha256.code || digest.digest.length !== 32) {
    return { reason: 'double hashes other than sha256 are not supported' };
  }
  return { id: digest.digest, form: 'ipip383' };
}

/** One entry of a list, as far as export is concerned. */
export interface ExportableEntry {
  id: EntryId;
  form?: EntryForm;
  ipip383?: Uint8Array;
}

export interface FormattedDenylist {
  text: string;
  /** Entries written as rules. */
  written: number;
  /** Entries whose IPIP-383 double hash is unknown (added by entry id), which no denylist rule can name. */
  unexportable: EntryId[];
}

/**
 * Writes entries as an IPIP-383 compact denylist of double-hashed `//` rules,
 * which Kubo, Rainbow and other NOpfs-based IPFS software can enforce. Entries
 * added by CID carry their double hash and are exported; entries imported from
 * a denylist are written back in the form they came in.
 */
export function formatDenylist(
  entries: Iterable<ExportableEntry>,
  header: Omit<DenylistHeader, 'version' | 'hints'> = {},
): FormattedDenylist {
  const rules: string[] = [];
  const unexportable: EntryId[] = [];
  for (const entry of entries) {
    if (entry.form === 'ipip383-legacy') rules.push(`//${bytesToHex(entry.id)}`);
    else if (entry.form === 'ipip383')
      rules.push(`//${base58btc.baseEncode(Digest.create(sha256.code, entry.id).bytes)}`);
    else if (entry.ipip383) rules.push(`//${base58btc.baseEncode(Digest.create(sha256.code, entry.ipip383).bytes)}`);
    else unexportable.push(entry.id);
  }
  const yaml = stringifyYaml({ version: 1, ...header, hints: { double_hash_fn: 'sha256' } });
  return { text: `${yaml}---\n${rules.map((r) => `${r}\n`).join('')}`, written: rules.length, unexportable };
}
