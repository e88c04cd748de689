// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {Time} from "@openzeppelin/contracts/utils/types/Time.sol";
import {IIllegalDataList} from "./interfaces/IIllegalDataList.sol";

/**
 * @title IllegalDataList
 * @notice One illegal-data list of Node Rating P2P, bound to a policy document and changed only by its
 * governance executor (a timelock controlled by token-holder vote). See {IIllegalDataList}.
 * @dev A list is either original or a fork. A fork starts at version 1 from a parent list's version,
 * minus named entries, and records that parent; from then on it has its own governance and history.
 */
contract IllegalDataList is IIllegalDataList {
    /// @dev A version in three slots: the root, the payload CID's digest, and everything else.
    struct StoredVersion {
        bytes32 root;
        bytes32 cidDigest;
        uint48 count;
        uint48 added;
        uint48 removed;
        uint48 publishedAt;
        uint8 cidPrefixLength;
        bytes7 cidPrefix;
    }

    uint256 private constant _CID_DIGEST_LENGTH = 32;
    uint256 private constant _MAX_CID_PREFIX_LENGTH = 7;

    address private immutable _executor;
    address private immutable _parentList;
    uint64 private immutable _parentVersion;
    string private _policyCid;
    uint64 private _currentVersion;
    mapping(uint64 version => StoredVersion) private _versions;

    /**
     * @notice Creates an original list, or a fork of `parentList` at `parentVersion`.
     * @dev For an original list, pass zero for `parentList`, `parentVersion` and `removed`. It starts
     * empty at version 0 when `count` is 0 and `payloadCid` is empty; otherwise it starts at version 1
     * with the given set. A fork always starts at version 1 with the parent's set minus `removed`
     * entries, so `count` must be the parent's count minus `removed`.
     * @param executor_ The governance executor (timelock) that alone may publish versions.
     * @param policyCid_ CID of the policy document the list enforces.
     * @param parentList The list to fork, or the zero address.
     * @param parentVersion The version of `parentList` to fork.
     * @param root Merkle root of the initial set.
     * @param count Number of entries in the initial set.
     * @param removed For a fork, entries of the parent version left out of the initial set.
     * @param payloadCid Binary CID of the initial set's payload.
     */
    constructor(
        address executor_,
        string memory policyCid_,
        address parentList,
        uint64 parentVersion,
        bytes32 root,
        uint48 count,
        uint48 removed,
        bytes memory payloadCid
    ) {
        if (executor_ == address(0)) revert IllegalDataListZeroExecutor();
        if (bytes(policyCid_).length == 0) revert IllegalDataListEmptyPolicyCid();
        _executor = executor_;
        _policyCid = policyCid_;
        _parentList = parentList;
        _parentVersion = parentVersion;
        emit ListCreated(executor_, policyCid_, parentList, parentVersion);

        if (parentList != address(0)) {
            if (parentList.code.length == 0) revert IllegalDataListInvalidParent(parentList);
            uint48 parentCount = IIllegalDataList(parentList).getVersion(parentVersion).count;
            _publish(parentCount, root, count, 0, removed, payloadCid);
        } else if (count != 0 || payloadCid.length != 0) {
            _publish(0, root, count, count, removed, payloadCid);
        }
    }

    /// @inheritdoc IIllegalDataList
    function publishVersion(
        uint64 parentVersion,
        bytes32 root,
        uint48 count,
        uint48 added,
        uint48 removed,
        bytes calldata payloadCid
    ) external returns (uint64) {
        if (msg.sender != _executor) revert IllegalDataListUnauthorized(msg.sender);
        uint64 current = _currentVersion;
        if (parentVersion != current) revert IllegalDataListStaleParent(parentVersion, current);
        return _publish(_versions[current].count, root, count, added, removed, payloadCid);
    }

    /// @inheritdoc IIllegalDataList
    function executor() external view returns (address) {
        return _executor;
    }

    /// @inheritdoc IIllegalDataList
    function policyCid() external view returns (string memory) {
        return _policyCid;
    }

    /// @inheritdoc IIllegalDataList
    function parent() external view returns (address list, uint64 version) {
        return (_parentList, _parentVersion);
    }

    /// @inheritdoc IIllegalDataList
    function currentVersion() external view returns (uint64) {
        return _currentVersion;
    }

    /// @inheritdoc IIllegalDataList
    function getVersion(uint64 version) external view returns (ListVersion memory) {
        StoredVersion storage stored = _getVersion(version);
        return
            ListVersion({
                root: stored.root,
                count: stored.count,
                added: stored.added,
                removed: stored.removed,
                // Every version is built on the one before it (a fork's first on the empty list).
                parentVersion: version - 1,
                publishedAt: stored.publishedAt,
                payloadCid: _unpackCid(stored.cidPrefixLength, stored.cidPrefix, stored.cidDigest)
            });
    }

    /// @inheritdoc IIllegalDataList
    function isListed(bytes32 entryId, bytes32[] calldata proof) external view returns (bool) {
        // Version 0 is the empty list, whose zero root no proof can reach.
        return MerkleProof.verifyCalldata(proof, _versions[_currentVersion].root, entryLeaf(entryId));
    }

    /// @inheritdoc IIllegalDataList
    function isListedAt(uint64 version, bytes32 entryId, bytes32[] calldata proof) external view returns (bool) {
        return MerkleProof.verifyCalldata(proof, _getVersion(version).root, entryLeaf(entryId));
    }

    /// @inheritdoc IIllegalDataList
    function entryLeaf(bytes32 entryId) public pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(abi.encode(entryId))));
    }

    function _getVersion(uint64 version) private view returns (StoredVersion storage) {
        if (version == 0 || version > _currentVersion) revert IllegalDataListUnknownVersion(version, _currentVersion);
        return _versions[version];
    }

    /// @dev Checks a new set against the parent's count and records it as the next version.
    function _publish(
        uint48 parentCount,
        bytes32 root,
        uint48 count,
        uint48 added,
        uint48 removed,
        bytes memory payloadCid
    ) private returns (uint64 version) {
        (uint8 cidPrefixLength, bytes7 cidPrefix, bytes32 cidDigest) = _packCid(payloadCid);
        if (count == 0 && root != bytes32(0)) revert IllegalDataListEmptySetRoot(root);
        if (count != 0 && root == bytes32(0)) revert IllegalDataListZeroRoot();
        if (removed > parentCount) revert IllegalDataListRemovedExceedsCount(removed, parentCount);
        uint256 expected = uint256(parentCount) - removed + added;
        if (count != expected) revert IllegalDataListCountMismatch(count, expected);

        uint64 parentVersion = _currentVersion;
        version = parentVersion + 1;
        _currentVersion = version;
        uint48 publishedAt = Time.timestamp();
        _versions[version] = StoredVersion({
            root: root,
            cidDigest: cidDigest,
            count: count,
            added: added,
            removed: removed,
            publishedAt: publishedAt,
            cidPrefixLength: cidPrefixLength,
            cidPrefix: cidPrefix
        });
        emit VersionPublished(version, parentVersion, root, count, added, removed, payloadCid, publishedAt);
    }

    /// @dev Splits a binary CID into its prefix (version, codec, hash function, length) and digest.
    function _packCid(bytes memory cid) private pure returns (uint8 prefixLength, bytes7 prefix, bytes32 digest) {
        uint256 length = cid.length;
        if (length == 0) revert IllegalDataListEmptyPayloadCid();
        if (length <= _CID_DIGEST_LENGTH || length > _CID_DIGEST_LENGTH + _MAX_CID_PREFIX_LENGTH) {
            revert IllegalDataListUnsupportedPayloadCid(cid);
        }
        prefixLength = uint8(length - _CID_DIGEST_LENGTH);
        bytes32 head;
        // Reading two words of a bytes in memory; Solidity has no slicing of memory bytes.
        // solhint-disable-next-line no-inline-assembly
        assembly ("memory-safe") {
            head := mload(add(cid, 0x20))
            digest := mload(add(add(cid, 0x20), prefixLength))
        }
        // The first word runs on into the digest; keep only the prefix bytes.
        prefix = bytes7(head & ~(bytes32(type(uint256).max) >> (8 * prefixLength)));
    }

    /// @dev Joins a prefix and a digest back into a binary CID.
    function _unpackCid(uint8 prefixLength, bytes7 prefix, bytes32 digest) private pure returns (bytes memory cid) {
        cid = new bytes(prefixLength + _CID_DIGEST_LENGTH);
        // solhint-disable-next-line no-inline-assembly
        assembly ("memory-safe") {
            mstore(add(cid, 0x20), prefix)
            mstore(add(add(cid, 0x20), prefixLength), digest)
        }
    }
}
