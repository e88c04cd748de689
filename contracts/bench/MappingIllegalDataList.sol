// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/**
 * @title MappingIllegalDataList
 * @notice Benchmark baseline only: a list that stores every entry id on chain in a mapping, the design
 * that {IllegalDataList} avoids. `npm run bench:gas` compares the governance cycle of both.
 */
contract MappingIllegalDataList {
    address private immutable _executor;
    mapping(bytes32 entryId => bool) private _listed;
    uint256 private _count;

    /// @notice `caller` is not the governance executor.
    error MappingIllegalDataListUnauthorized(address caller);

    /// @notice `entryIds` were added to the list.
    event EntriesAdded(bytes32[] entryIds);

    /// @param executor_ The only account that may add entries.
    constructor(address executor_) {
        _executor = executor_;
    }

    /// @notice Adds `entryIds` to the list. Governance executor only.
    function addEntries(bytes32[] calldata entryIds) external {
        if (msg.sender != _executor) revert MappingIllegalDataListUnauthorized(msg.sender);
        for (uint256 i = 0; i < entryIds.length; ++i) {
            if (!_listed[entryIds[i]]) {
                _listed[entryIds[i]] = true;
                ++_count;
            }
        }
        emit EntriesAdded(entryIds);
    }

    /// @notice Whether `entryId` is listed.
    function isListed(bytes32 entryId) external view returns (bool) {
        return _listed[entryId];
    }

    /// @notice Number of listed entries.
    function count() external view returns (uint256) {
        return _count;
    }
}
