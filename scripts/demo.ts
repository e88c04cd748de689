/**
 * `npm run demo [-- --nodes N --seed S --keep --work-dir DIR]`: the whole story of the product on this machine,
 * with real parts, checked end to end. The timeline goes to stdout, and its last line is one JSON object:
 * `{"ok":true,"nodes":12,"seed":1,"seconds":…,"claims":{…},"table":[…]}`. Exits 0 only if every claim held.
 * See src/demo/run.ts.
 */
import process from 'node:process';
import { CommanderError } from 'commander';
import { parseDemoCommandLine } from '../src/demo/options.js';
import { runDemo } from '../src/demo/run.js';

let commandLine: ReturnType<typeof parseDemoCommandLine>;
try {
  commandLine = parseDemoCommandLine(process.argv.slice(2));
} catch (error) {
  process.exit(error instanceof CommanderError ? error.exitCode : 2);
}

const stop = new AbortController();
let interrupts = 0;
const interrupt = () => {
  interrupts++;
  if (interrupts === 1) {
    process.stderr.write('\nStopping the demo and everything it started (Ctrl-C again to kill at once)…\n');
    stop.abort();
  } else process.exit(130);
};
process.on('SIGINT', interrupt);
process.on('SIGTERM', interrupt);

let result: Awaited<ReturnType<typeof runDemo>>;
try {
  result = await runDemo({ ...commandLine, out: process.stdout, signal: stop.signal });
} catch (error) {
  // Only what fails before anything starts gets here, such as a work dir already in use.
  process.stderr.write(`demo: ${(error as Error).message}\n`);
  process.exit(2);
}
process.stdout.write(`${JSON.stringify(result)}\n`);
process.exit(stop.signal.aborted && !commandLine.keep ? 130 : result.ok ? 0 : 1);
