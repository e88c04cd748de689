export { formatTokens, short } from '../../src/cli/format.js';

/** A chain timestamp (seconds) as a date and time in the reader's locale and time zone. */
export function formatDate(seconds: number | bigint): string {
  return new Date(Number(seconds) * 1000).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
}

/** How far `target` is from `now` (both chain seconds), in words: "in 4 min 10 s", "2 h ago". */
export function relativeTime(target: number | bigint, now: number | bigint | undefined): string {
  if (now === undefined) return '';
  const delta = Number(target) - Number(now);
  const text = duration(Math.abs(delta));
  if (delta === 0) return 'now';
  return delta > 0 ? `in ${text}` : `${text} ago`;
}

/** Seconds in words, to two units: "1 d 4 h", "5 min 3 s". */
export function duration(seconds: number): string {
  const units: [string, number][] = [
    ['d', 86_400],
    ['h', 3_600],
    ['min', 60],
    ['s', 1],
  ];
  const parts: string[] = [];
  let rest = Math.round(seconds);
  for (const [name, size] of units) {
    if (rest >= size || (parts.length === 0 && size === 1)) {
      parts.push(`${Math.floor(rest / size)} ${name}`);
      rest %= size;
    }
    if (parts.length === 2) break;
  }
  return parts.join(' ');
}

/** A share as a percentage with one decimal, "12.5%"; 0% when the whole is zero. */
export function percent(part: bigint, whole: bigint): string {
  if (whole === 0n) return '0%';
  return `${(Number((part * 1000n) / whole) / 10).toFixed(1)}%`;
}
