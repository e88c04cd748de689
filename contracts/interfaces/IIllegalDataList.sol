// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/**
 * @title IIllegalDataList
 * @notice A versioned, governance-controlled list of content that must not circulate on the network.
 * @dev Entries are ids, never content: `entryId = sha256(multihash bytes of the content's CID)`.
 * A version commits to the sorted set of ids by its Merkle root; the ids themselves, with optional
 * metadata, are in the version's dag-cbor payload on IPFS. The root is that of an OpenZeppelin
 * `StandardMerkleTree` over `bytes32` leaves, so a leaf is `keccak256(bytes.concat(keccak256(abi.encode(id))))`
 * and pairs are hashed sorted, which is what `MerkleProof` verifies.
 *
 * Payload CIDs are binary CIDs (as in ENS contenthash), not strings: stored as a 32-byte digest plus a
 * short prefix packed beside the counts, a version takes three storage slots, so publishing stays cheap.
 * Any CIDv0 or CIDv1 with a 32-byte digest fits; decode one with `CID.decode(bytes)` from multiformats.
 */
interface IIllegalDataList {
    /**
     * @notice One published state of the list.
     * @param root Merkle root of the set of entry ids; zero only for the empty set.
     * @param count Number of entries in the set.
     * @param added Entries in this version that were not in its parent.
     * @param removed Entries of its parent that are not in this version.
     * @param parentVersion The version of this list it was built on; 0 for the empty list it started as
     * (a fork's first version names its parent list and version in {parent} instead).
     * @param publishedAt Block timestamp at which the version took effect.
     * @param payloadCid Binary CID of the version's payload on IPFS.
     */
    struct ListVersion {
        bytes32 root;
        uint48 count;
        uint48 added;
        uint48 removed;
        uint64 parentVersion;
        uint48 publishedAt;
        bytes payloadCid;
    }

    /**
     * @notice The list was created.
     * @param executor The governance executor (timelock) that alone may publish versions.
     * @param policyCid CID of the policy document the list enforces.
     * @param parentList The list this one forks, or the zero address.
     * @param parentVersion The version of `parentList` this one forks, or 0.
     */
    event ListCreated(address indexed executor, string policyCid, address indexed parentList, uint64 parentVersion);

    /**
     * @notice A new version took effect. This event alone is enough for a node to sync the list.
     * @param version The new version number, counted from 1.
     * @param parentVersion The version it was built on.
     * @param root Merkle root of the new set of entry ids.
     * @param count Number of entries in the new set.
     * @param added Entries added relative to the parent version.
     * @param removed Entries removed relative to the parent version.
     * @param payloadCid Binary CID of the payload holding the entry ids.
     * @param publishedAt Block timestamp at which it took effect.
     */
    event VersionPublished(
        uint64 indexed version,
        uint64 indexed parentVersion,
        bytes32 root,
        uint48 count,
        uint48 added,
        uint48 removed,
        bytes payloadCid,
        uint48 publishedAt
    );

    /// @notice `caller` is not the governance executor, the only account that may publish.
    error IllegalDataListUnauthorized(address caller);

    /// @notice The governance executor cannot be the zero address.
    error IllegalDataListZeroExecutor();

    /// @notice A list must name the CID of its policy document.
    error IllegalDataListEmptyPolicyCid();

    /// @notice A version must name the CID of its payload.
    error IllegalDataListEmptyPayloadCid();

    /// @notice `cid` is not a binary CID with a 32-byte digest and a prefix of at most 7 bytes.
    error IllegalDataListUnsupportedPayloadCid(bytes cid);

    /// @notice A non-empty set cannot have a zero Merkle root.
    error IllegalDataListZeroRoot();

    /// @notice The empty set has the zero root, so `root` cannot describe it.
    error IllegalDataListEmptySetRoot(bytes32 root);

    /// @notice The proposal was built on `parentVersion`, but the list is at `currentVersion`.
    error IllegalDataListStaleParent(uint64 parentVersion, uint64 currentVersion);

    /// @notice `removed` entries cannot be removed from a parent set of `parentCount` entries.
    error IllegalDataListRemovedExceedsCount(uint48 removed, uint48 parentCount);

    /// @notice `count` does not equal the parent's count plus added minus removed, `expected`.
    error IllegalDataListCountMismatch(uint48 count, uint256 expected);

    /// @notice `version` has not been published; the list is at `currentVersion`.
    error IllegalDataListUnknownVersion(uint64 version, uint64 currentVersion);

    /// @notice `parentList` is not a contract, so it cannot be forked.
    error IllegalDataListInvalidParent(address parentList);

    /**
     * @notice Publishes a new version. Only the governance executor may call this.
     * @dev Costs the same gas whatever the number of entries: the entries live in the payload.
     * @param parentVersion The version the new set was computed from; must be the current version, so a
     * proposal built on an outdated list cannot overwrite changes made since.
     * @param root Merkle root of the new set (zero only when `count` is 0).
     * @param count Number of entries in the new set.
     * @param added Entries added relative to the parent version.
     * @param removed Entries removed relative to the parent version.
     * @param payloadCid Binary CID of the payload on IPFS.
     * @return version The new version number.
     */
    function publishVersion(
        uint64 parentVersion,
        bytes32 root,
        uint48 count,
        uint48 added,
        uint48 removed,
        bytes calldata payloadCid
    ) external returns (uint64 version);

    /// @notice The governance executor (timelock) that alone may publish versions.
    function executor() external view returns (address);

    /// @notice CID of the policy document this list enforces.
    function policyCid() external view returns (string memory);

    /**
     * @notice The list this one forks, if any.
     * @return list The parent list, or the zero address for an original list.
     * @return version The parent's version that the fork started from, or 0.
     */
    function parent() external view returns (address list, uint64 version);

    /// @notice The latest published version number; 0 while the list is still empty and unpublished.
    function currentVersion() external view returns (uint64);

    /// @notice A published version. Reverts with {IllegalDataListUnknownVersion} for any other number.
    function getVersion(uint64 version) external view returns (ListVersion memory);

    /**
     * @notice Whether `entryId` is in the current version, given its Merkle proof.
     * @return True only if the proof shows the id is in the set; false for an absent id or a bad proof.
     */
    function isListed(bytes32 entryId, bytes32[] calldata proof) external view returns (bool);

    /// @notice Whether `entryId` is in the set of `version`, given its Merkle proof.
    function isListedAt(uint64 version, bytes32 entryId, bytes32[] calldata proof) external view returns (bool);

    /// @notice The Merkle leaf of `entryId`: `keccak256(bytes.concat(keccak256(abi.encode(entryId))))`.
    function entryLeaf(bytes32 entryId) external pure returns (bytes32);
}
