import { createRequire } from 'node:module';
import hardhatToolboxMochaEthersPlugin from '@nomicfoundation/hardhat-toolbox-mocha-ethers';
import { configVariable, defineConfig, task } from 'hardhat/config';

// The compiler comes from the `solc` npm package, pinned in package.json, so
// compiling never downloads anything and every machine builds the same bytecode.
const require = createRequire(import.meta.url);
const solcVersion: string = require('solc/package.json').version;
const solcPath = require.resolve('solc/soljson.js');

export default defineConfig({
  plugins: [hardhatToolboxMochaEthersPlugin],
  tasks: [
    task('deploy-dao', 'Deploy a whole Node Rating P2P DAO and record it in deployments/<network>.json')
      .addOption({
        name: 'parameters',
        description: 'Ignition parameters file (default on a local chain: ignition/parameters/local.json)',
        defaultValue: '',
      })
      .setAction(() => import('./tasks/deploy-dao.js'))
      .build(),
  ],
  solidity: {
    version: solcVersion,
    path: solcPath,
    settings: {
      optimizer: { enabled: true, runs: 200 },
      // Cancun runs on every major EVM chain and L2 today.
      evmVersion: 'cancun',
    },
    npmFilesToBuild: ['@openzeppelin/contracts/governance/TimelockController.sol'],
  },
  networks: {
    // The chain `hardhat node` (and so `npm run chain`) serves: a block every second besides
    // one per transaction, so time moves on and proposals leave "pending" as on a real chain.
    node: {
      type: 'edr-simulated',
      chainType: 'l1',
      mining: { auto: true, interval: 1000 },
    },
    // A node started with `npm run chain` (hardhat node) on 127.0.0.1:8545.
    localhost: {
      type: 'http',
      chainType: 'l1',
      url: 'http://127.0.0.1:8545',
    },
    // Any other EVM network: set NRP_RPC_URL and NRP_DEPLOYER_KEY as configuration
    // variables (environment or `npx hardhat keystore set`), then pass --network remote.
    remote: {
      type: 'http',
      chainType: 'l1',
      url: configVariable('NRP_RPC_URL'),
      accounts: [configVariable('NRP_DEPLOYER_KEY')],
    },
  },
});
