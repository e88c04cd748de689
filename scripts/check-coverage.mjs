// Fails unless Hardhat's coverage run (coverage/lcov.info) covered every line of
// every contract. Run after `hardhat test --coverage`.
import { readFileSync } from 'node:fs';

const lcov = readFileSync(new URL('../coverage/lcov.info', import.meta.url), 'utf8');
const uncovered = [];
for (const record of lcov.split('end_of_record')) {
  const file = record.match(/^SF:(.+)$/m)?.[1];
  if (!file) continue;
  const missed = [...record.matchAll(/^DA:(\d+),0$/gm)].map((m) => Number(m[1]));
  if (missed.length > 0) uncovered.push(`${file}: lines ${missed.join(', ')}`);
}
if (uncovered.length > 0) {
  console.error(`Contract coverage is below 100%:\n  ${uncovered.join('\n  ')}`);
  process.exit(1);
}
console.log('Contract coverage: 100% of lines and statements.');
