import { ethers, networkHelpers } from './dao.js';

/**
 * A signer for contract `address` (such as the timelock), to exercise
 * functions that only it may call without a whole vote each time.
 */
export async function impersonate(address: string | { getAddress(): Promise<string> }) {
  const resolved = typeof address === 'string' ? address : await address.getAddress();
  await networkHelpers.impersonateAccount(resolved);
  await networkHelpers.setBalance(resolved, 10n ** 20n);
  return ethers.getSigner(resolved);
}
