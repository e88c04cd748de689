// Postinstall: make sure Hardhat's native EDR binding is installed.
//
// npm skips the optional package `@nomicfoundation/edr-<platform>` when npm
// itself runs on a Node older than 22 (its `engines` says >=22), even though
// every script here runs on the Node 24 pinned in devDependencies. This step
// runs under that pinned Node (npm puts node_modules/.bin first on PATH) and
// installs the binding that matches the installed EDR, without saving it.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import process from 'node:process';

const GUARD = 'NRP_ENSURE_EDR_RUNNING';
const require = createRequire(import.meta.url);

function platformSuffix() {
  const { platform, arch } = process;
  if (platform === 'linux') {
    const glibc = process.report?.getReport()?.header?.glibcVersionRuntime;
    return `linux-${arch}-${glibc ? 'gnu' : 'musl'}`;
  }
  if (platform === 'win32') return `win32-${arch}-msvc`;
  return `${platform}-${arch}`;
}

// Checked in a child process: Node caches failed resolutions in this one.
function bindingLoads() {
  try {
    execFileSync(process.execPath, ['-e', "require('@nomicfoundation/edr')"], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

if (process.env[GUARD]) process.exit(0);

let edrVersion;
try {
  // EDR's `exports` hides package.json, so read it next to the entry point.
  const entry = require.resolve('@nomicfoundation/edr');
  edrVersion = JSON.parse(readFileSync(join(dirname(entry), 'package.json'), 'utf8')).version;
} catch {
  // Installed without dev dependencies (no Hardhat): nothing to do.
  process.exit(0);
}

if (bindingLoads()) process.exit(0);

const major = Number(process.versions.node.split('.')[0]);
if (major < 22) {
  console.warn(
    `ensure-edr: running on Node ${process.versions.node}; Hardhat needs Node >= 22. ` +
      'Run npm scripts (npm test, npm run …) so the pinned Node 24 is used.',
  );
  process.exit(0);
}

const pkg = `@nomicfoundation/edr-${platformSuffix()}@${edrVersion}`;
console.log(`ensure-edr: installing ${pkg} (skipped by npm on an older Node)`);
execFileSync(
  process.platform === 'win32' ? 'npm.cmd' : 'npm',
  ['install', '--no-save', '--ignore-scripts', '--no-audit', '--no-fund', pkg],
  { stdio: 'inherit', env: { ...process.env, [GUARD]: '1' } },
);

if (!bindingLoads()) {
  console.error(`ensure-edr: ${pkg} installed but the EDR binding still does not load.`);
  process.exit(1);
}
