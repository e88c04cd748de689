// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/**
 * @title IRatingServerRegistry
 * @notice The registry of Node Rating P2P rating servers. Anyone may apply; token holders activate,
 * suspend and remove servers by vote. Nodes trust a verdict only if it is signed by the key of a server
 * that is active here.
 */
interface IRatingServerRegistry {
    /**
     * @notice Where a server stands.
     * @dev `None` is the status of an id that was never registered.
     */
    enum Status {
        None,
        Applied,
        Active,
        Suspended,
        Removed
    }

    /**
     * @notice A server's registration.
     * @param operator The account that applied and may update endpoints and rotate the key.
     * @param status Where the server stands.
     * @param registeredAt Block timestamp of the application.
     * @param updatedAt Block timestamp of the last change.
     * @param list The illegal-data list the server enforces.
     * @param peerId The server's libp2p peer id bytes; for an Ed25519 key they embed the public key
     * that signs its verdicts.
     * @param policyCid CID of the server's published rating policy.
     * @param multiaddrs The libp2p multiaddrs where nodes reach the server.
     */
    struct Server {
        address operator;
        Status status;
        uint48 registeredAt;
        uint48 updatedAt;
        address list;
        bytes peerId;
        string policyCid;
        string[] multiaddrs;
    }

    /// @notice A server applied for registration.
    event ServerRegistered(
        uint256 indexed serverId,
        address indexed operator,
        address indexed list,
        bytes peerId,
        string policyCid,
        string[] multiaddrs
    );

    /// @notice A server's status changed from `previous` to `current`.
    event ServerStatusChanged(uint256 indexed serverId, Status previous, Status current);

    /// @notice A server's operator replaced its multiaddrs.
    event ServerEndpointsUpdated(uint256 indexed serverId, string[] multiaddrs);

    /// @notice A server's operator rotated its key from `previousPeerId` to `peerId`.
    event ServerKeyRotated(uint256 indexed serverId, bytes previousPeerId, bytes peerId);

    /// @notice `caller` is not the governance executor, the only account that may change a status.
    error RatingServerRegistryUnauthorized(address caller);

    /// @notice The governance executor cannot be the zero address.
    error RatingServerRegistryZeroExecutor();

    /// @notice `caller` is not the operator of server `serverId`.
    error RatingServerRegistryNotOperator(uint256 serverId, address caller);

    /// @notice No server was ever registered as `serverId`.
    error RatingServerRegistryUnknownServer(uint256 serverId);

    /// @notice A registration needs the server's peer id.
    error RatingServerRegistryEmptyPeerId();

    /// @notice `peerId` already belongs to server `serverId`, which has not been removed.
    error RatingServerRegistryPeerIdTaken(bytes peerId, uint256 serverId);

    /// @notice A registration needs between 1 and `max` multiaddrs; `count` were given.
    error RatingServerRegistryMultiaddrCount(uint256 count, uint256 max);

    /// @notice The multiaddr at `index` is empty.
    error RatingServerRegistryEmptyMultiaddr(uint256 index);

    /// @notice A registration needs the CID of the server's policy.
    error RatingServerRegistryEmptyPolicyCid();

    /// @notice `list` is not a contract, so it cannot be the list a server enforces.
    error RatingServerRegistryInvalidList(address list);

    /// @notice Server `serverId` was removed; its registration can no longer change.
    error RatingServerRegistryServerRemoved(uint256 serverId);

    /// @notice Server `serverId` cannot go from `from` to `to`.
    error RatingServerRegistryInvalidTransition(uint256 serverId, Status from, Status to);

    /**
     * @notice Applies for registration. Anyone may apply; the caller becomes the operator and the
     * server starts as {Status.Applied} until a vote activates it.
     * @param peerId The server's libp2p peer id bytes.
     * @param multiaddrs Where nodes reach the server.
     * @param policyCid CID of the server's rating policy.
     * @param list The illegal-data list the server enforces.
     * @return serverId The new server's id, counted from 1.
     */
    function register(
        bytes calldata peerId,
        string[] calldata multiaddrs,
        string calldata policyCid,
        address list
    ) external returns (uint256 serverId);

    /// @notice Activates an applied or suspended server. Governance executor only.
    function activate(uint256 serverId) external;

    /// @notice Suspends an active server; nodes stop trusting its verdicts. Governance executor only.
    function suspend(uint256 serverId) external;

    /// @notice Removes a server for good and frees its peer id. Governance executor only.
    function remove(uint256 serverId) external;

    /// @notice Replaces the server's multiaddrs. Operator only.
    function updateEndpoints(uint256 serverId, string[] calldata multiaddrs) external;

    /**
     * @notice Replaces the server's key. Operator only.
     * @dev An active server goes back to {Status.Applied}: a new key needs a new vote.
     */
    function rotateKey(uint256 serverId, bytes calldata peerId) external;

    /// @notice The governance executor (timelock) that alone may change statuses.
    function executor() external view returns (address);

    /// @notice The most multiaddrs a server may register.
    function maxMultiaddrs() external pure returns (uint256);

    /// @notice Number of servers ever registered; ids run from 1 to this number.
    function serverCount() external view returns (uint256);

    /// @notice A server's registration. Reverts with {RatingServerRegistryUnknownServer} for unknown ids.
    function getServer(uint256 serverId) external view returns (Server memory);

    /// @notice The id of the live (not removed) server with `peerId`, or 0.
    function serverIdOf(bytes calldata peerId) external view returns (uint256);

    /// @notice Whether `peerId` is the key of an active server, i.e. whether its verdicts count.
    function isActive(bytes calldata peerId) external view returns (bool);

    /// @notice The ids of all servers with `status`, in no particular order.
    function serverIdsByStatus(Status status) external view returns (uint256[] memory);
}
