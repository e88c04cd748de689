// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {EnumerableSet} from "@openzeppelin/contracts/utils/structs/EnumerableSet.sol";
import {Time} from "@openzeppelin/contracts/utils/types/Time.sol";
import {IRatingServerRegistry} from "./interfaces/IRatingServerRegistry.sol";

/**
 * @title RatingServerRegistry
 * @notice Registrations of Node Rating P2P rating servers. See {IRatingServerRegistry}.
 * @dev Status changes come only from the governance executor (the DAO's timelock); endpoints and keys
 * only from each server's operator. A peer id is unique among servers that are not removed, so a
 * squatter's application can be removed by vote to free the id for its real owner.
 */
contract RatingServerRegistry is IRatingServerRegistry {
    using EnumerableSet for EnumerableSet.UintSet;

    uint256 private constant _MAX_MULTIADDRS = 16;

    address private immutable _executor;
    uint256 private _serverCount;
    mapping(uint256 serverId => Server) private _servers;
    mapping(bytes32 peerIdHash => uint256 serverId) private _liveServerByPeerId;
    mapping(Status status => EnumerableSet.UintSet) private _serversByStatus;

    /**
     * @notice Creates the registry.
     * @param executor_ The governance executor (timelock) that alone may change statuses.
     */
    constructor(address executor_) {
        if (executor_ == address(0)) revert RatingServerRegistryZeroExecutor();
        _executor = executor_;
    }

    modifier onlyExecutor() {
        if (msg.sender != _executor) revert RatingServerRegistryUnauthorized(msg.sender);
        _;
    }

    modifier onlyOperator(uint256 serverId) {
        Server storage server = _getServer(serverId);
        if (msg.sender != server.operator) revert RatingServerRegistryNotOperator(serverId, msg.sender);
        if (server.status == Status.Removed) revert RatingServerRegistryServerRemoved(serverId);
        _;
    }

    /// @inheritdoc IRatingServerRegistry
    function register(
        bytes calldata peerId,
        string[] calldata multiaddrs,
        string calldata policyCid,
        address list
    ) external returns (uint256 serverId) {
        if (bytes(policyCid).length == 0) revert RatingServerRegistryEmptyPolicyCid();
        if (list.code.length == 0) revert RatingServerRegistryInvalidList(list);

        serverId = ++_serverCount;
        _claimPeerId(peerId, serverId);
        Server storage server = _servers[serverId];
        server.operator = msg.sender;
        server.status = Status.Applied;
        server.registeredAt = Time.timestamp();
        server.updatedAt = server.registeredAt;
        server.list = list;
        server.peerId = peerId;
        server.policyCid = policyCid;
        _setMultiaddrs(server, multiaddrs);
        _serversByStatus[Status.Applied].add(serverId);
        emit ServerRegistered(serverId, msg.sender, list, peerId, policyCid, multiaddrs);
    }

    /// @inheritdoc IRatingServerRegistry
    function activate(uint256 serverId) external onlyExecutor {
        Status from = _getServer(serverId).status;
        if (from != Status.Applied && from != Status.Suspended) {
            revert RatingServerRegistryInvalidTransition(serverId, from, Status.Active);
        }
        _setStatus(serverId, Status.Active);
    }

    /// @inheritdoc IRatingServerRegistry
    function suspend(uint256 serverId) external onlyExecutor {
        Status from = _getServer(serverId).status;
        if (from != Status.Active) revert RatingServerRegistryInvalidTransition(serverId, from, Status.Suspended);
        _setStatus(serverId, Status.Suspended);
    }

    /// @inheritdoc IRatingServerRegistry
    function remove(uint256 serverId) external onlyExecutor {
        Server storage server = _getServer(serverId);
        if (server.status == Status.Removed) {
            revert RatingServerRegistryInvalidTransition(serverId, Status.Removed, Status.Removed);
        }
        delete _liveServerByPeerId[keccak256(server.peerId)];
        _setStatus(serverId, Status.Removed);
    }

    /// @inheritdoc IRatingServerRegistry
    function updateEndpoints(uint256 serverId, string[] calldata multiaddrs) external onlyOperator(serverId) {
        Server storage server = _servers[serverId];
        _setMultiaddrs(server, multiaddrs);
        server.updatedAt = Time.timestamp();
        emit ServerEndpointsUpdated(serverId, multiaddrs);
    }

    /// @inheritdoc IRatingServerRegistry
    function rotateKey(uint256 serverId, bytes calldata peerId) external onlyOperator(serverId) {
        Server storage server = _servers[serverId];
        bytes memory previousPeerId = server.peerId;
        delete _liveServerByPeerId[keccak256(previousPeerId)];
        _claimPeerId(peerId, serverId);
        server.peerId = peerId;
        server.updatedAt = Time.timestamp();
        emit ServerKeyRotated(serverId, previousPeerId, peerId);
        if (server.status == Status.Active) _setStatus(serverId, Status.Applied);
    }

    /// @inheritdoc IRatingServerRegistry
    function executor() external view returns (address) {
        return _executor;
    }

    /// @inheritdoc IRatingServerRegistry
    function maxMultiaddrs() external pure returns (uint256) {
        return _MAX_MULTIADDRS;
    }

    /// @inheritdoc IRatingServerRegistry
    function serverCount() external view returns (uint256) {
        return _serverCount;
    }

    /// @inheritdoc IRatingServerRegistry
    function getServer(uint256 serverId) external view returns (Server memory) {
        return _getServer(serverId);
    }

    /// @inheritdoc IRatingServerRegistry
    function serverIdOf(bytes calldata peerId) external view returns (uint256) {
        return _liveServerByPeerId[keccak256(peerId)];
    }

    /// @inheritdoc IRatingServerRegistry
    function isActive(bytes calldata peerId) external view returns (bool) {
        uint256 serverId = _liveServerByPeerId[keccak256(peerId)];
        return serverId != 0 && _servers[serverId].status == Status.Active;
    }

    /// @inheritdoc IRatingServerRegistry
    function serverIdsByStatus(Status status) external view returns (uint256[] memory) {
        return _serversByStatus[status].values();
    }

    function _getServer(uint256 serverId) private view returns (Server storage server) {
        server = _servers[serverId];
        if (server.status == Status.None) revert RatingServerRegistryUnknownServer(serverId);
    }

    function _claimPeerId(bytes calldata peerId, uint256 serverId) private {
        if (peerId.length == 0) revert RatingServerRegistryEmptyPeerId();
        bytes32 key = keccak256(peerId);
        uint256 holder = _liveServerByPeerId[key];
        if (holder != 0) revert RatingServerRegistryPeerIdTaken(peerId, holder);
        _liveServerByPeerId[key] = serverId;
    }

    function _setStatus(uint256 serverId, Status to) private {
        Server storage server = _servers[serverId];
        Status from = server.status;
        _serversByStatus[from].remove(serverId);
        _serversByStatus[to].add(serverId);
        server.status = to;
        server.updatedAt = Time.timestamp();
        emit ServerStatusChanged(serverId, from, to);
    }

    /// @dev Checks and stores `multiaddrs`; the legacy code generator cannot copy a calldata string[] at once.
    function _setMultiaddrs(Server storage server, string[] calldata multiaddrs) private {
        if (multiaddrs.length == 0 || multiaddrs.length > _MAX_MULTIADDRS) {
            revert RatingServerRegistryMultiaddrCount(multiaddrs.length, _MAX_MULTIADDRS);
        }
        delete server.multiaddrs;
        for (uint256 i = 0; i < multiaddrs.length; ++i) {
            if (bytes(multiaddrs[i]).length == 0) revert RatingServerRegistryEmptyMultiaddr(i);
            server.multiaddrs.push(multiaddrs[i]);
        }
    }
}
