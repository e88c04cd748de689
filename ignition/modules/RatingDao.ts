import { buildModule } from '@nomicfoundation/hardhat-ignition/modules';
import { ZeroAddress, ZeroHash } from 'ethers';
import { buildGovernance } from './governance.js';

/**
 * A whole Node Rating P2P DAO: token, timelock, Governor, the rating-server
 * registry and one illegal-data list, all controlled by the timelock.
 *
 * Parameters (module `RatingDao`): `holders` and `amounts` (required), the
 * governance timings of `GOVERNANCE_DEFAULTS`, and `listPolicyCid`.
 */
export default buildModule('RatingDao', (m) => {
  const { token, timelock, governor } = buildGovernance(m);

  const registry = m.contract('RatingServerRegistry', [timelock]);
  const list = m.contract('IllegalDataList', [
    timelock,
    m.getParameter('listPolicyCid'),
    ZeroAddress,
    0n,
    ZeroHash,
    0n,
    0n,
    '0x',
  ]);

  return { token, timelock, governor, registry, list };
});
