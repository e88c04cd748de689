/**
 * A parent that starts one `nrp ipfs serve` child through the demo's supervisor, prints the child's pid, and
 * waits to be killed: the test kills it with SIGKILL and checks that the child stops by itself.
 */
import { ProcessSupervisor } from '../../../src/demo/processes.js';

if (import.meta.main) {
  const [logDir, dataDir] = process.argv.slice(2);
  const supervisor = new ProcessSupervisor(logDir);
  const child = await supervisor.startNrp('ipfs', [
    '--data-dir',
    dataDir,
    'ipfs',
    'serve',
    '--listen',
    '/ip4/127.0.0.1/tcp/0',
  ]);
  child.onLine((line) => {
    if (line.text.startsWith('IPFS node')) process.stdout.write(`child ${child.pid}\n`);
  });
  setInterval(() => {}, 60_000);
}
