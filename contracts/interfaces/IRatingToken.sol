// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/**
 * @title IRatingToken
 * @notice Errors of the Node Rating P2P governance token.
 */
interface IRatingToken {
    /**
     * @notice The initial distribution lists `holders` accounts but `amounts` amounts.
     * @param holders Number of holder addresses given.
     * @param amounts Number of amounts given.
     */
    error RatingTokenDistributionLengthMismatch(uint256 holders, uint256 amounts);

    /// @notice The initial distribution mints nothing, so nobody could ever vote.
    error RatingTokenEmptyDistribution();
}
