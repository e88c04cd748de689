import { type Abi, decodeFunctionData, type Hex } from 'viem';
import {
  illegalDataListAbi,
  ratingGovernorAbi,
  ratingServerRegistryAbi,
  ratingTokenAbi,
  timelockControllerAbi,
} from './abis.js';

/** Every contract ABI of the DAO, by contract name, to decode a call whatever its target. */
export const DAO_ABIS: readonly { contract: string; abi: Abi }[] = [
  { contract: 'IllegalDataList', abi: illegalDataListAbi },
  { contract: 'RatingServerRegistry', abi: ratingServerRegistryAbi },
  { contract: 'RatingGovernor', abi: ratingGovernorAbi },
  { contract: 'RatingToken', abi: ratingTokenAbi },
  { contract: 'TimelockController', abi: timelockControllerAbi },
];

/** A proposal's call, decoded against the DAO's ABIs. */
export interface DecodedDaoCall {
  /** The contract whose ABI has the function (the target may still be another contract). */
  contract: string;
  functionName: string;
  args: readonly unknown[];
}

/**
 * The function and arguments of `calldata`, if it is a call to a function of one of the DAO's contracts, or
 * undefined: such a call cannot be shown to voters, who must then check it by other means.
 *
 * @example
 * const call = decodeDaoCall(proposal.calldatas[0]);
 * if (call?.functionName === 'publishVersion') inspect(decodePublishVersion(proposal.calldatas[0]));
 */
export function decodeDaoCall(calldata: Hex): DecodedDaoCall | undefined {
  for (const { contract, abi } of DAO_ABIS) {
    try {
      const { functionName, args } = decodeFunctionData({ abi, data: calldata });
      return { contract, functionName, args: args ?? [] };
    } catch {
      // Not this contract's function; try the next ABI.
    }
  }
  return undefined;
}
