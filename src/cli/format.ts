import { formatUnits } from 'viem';
import type { ListSync } from '../lists/sync.js';
import type { Output } from './output.js';

/** A block timestamp (seconds) as a readable UTC time. */
export function formatTime(seconds: number | bigint): string {
  return `${new Date(Number(seconds) * 1000).toISOString().replace('T', ' ').slice(0, 19)} UTC`;
}

/** A long hex value or id cut to its ends, for tables. */
export function short(text: string, keep = 6): string {
  return text.length <= keep * 2 + 1 ? text : `${text.slice(0, keep + 2)}…${text.slice(-keep)}`;
}

/** Token amounts with 18 decimals, as whole tokens with grouping. */
export function formatTokens(amount: bigint): string {
  const [whole, fraction = ''] = formatUnits(amount, 18).split('.');
  const grouped = BigInt(whole).toLocaleString('en');
  return fraction ? `${grouped}.${fraction.slice(0, 4).replace(/0+$/, '')}`.replace(/\.$/, '') : grouped;
}

/** A proposal id from the command line: decimal, or 0x hex. */
export function parseProposalId(text: string): bigint {
  if (/^\d+$/.test(text) || /^0x[0-9a-fA-F]+$/.test(text)) return BigInt(text);
  throw new Error(`Not a proposal id: ${text}`);
}

/** Notes a list sync's versions and errors as they happen, for the commands that run a node or a server. */
export function noteListSync(output: Output, list: ListSync): void {
  list.addEventListener('version', ({ detail }) =>
    output.note(`list ${detail.synced.list} at version ${detail.synced.version} (${detail.synced.count} entries)`),
  );
  list.addEventListener('error', ({ detail }) => output.note(`list sync: ${detail.error.message}`));
}
