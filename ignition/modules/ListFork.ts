import { buildModule } from '@nomicfoundation/hardhat-ignition/modules';
import { buildGovernance } from './governance.js';

/**
 * A protest fork: a new illegal-data list that starts as `parentList` at
 * `parentVersion` minus some entries, under its own token, timelock and
 * Governor. The chain records the parent and the version.
 *
 * Parameters (module `ListFork`): `parentList`, `parentVersion`, `listPolicyCid`,
 * the fork's initial set as `root`, `count`, `removed` and `payloadCid`, and
 * the governance parameters of `RatingDao` (`holders` and `amounts` required).
 */
export default buildModule('ListFork', (m) => {
  const { token, timelock, governor } = buildGovernance(m);

  const list = m.contract('IllegalDataList', [
    timelock,
    m.getParameter('listPolicyCid'),
    m.getParameter('parentList'),
    m.getParameter('parentVersion'),
    m.getParameter('root'),
    m.getParameter('count'),
    m.getParameter('removed'),
    m.getParameter('payloadCid'),
  ]);

  return { token, timelock, governor, list };
});
