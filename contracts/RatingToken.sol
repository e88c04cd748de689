// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";
import {ERC20Votes} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Votes.sol";
import {Nonces} from "@openzeppelin/contracts/utils/Nonces.sol";
import {Time} from "@openzeppelin/contracts/utils/types/Time.sol";
import {IRatingToken} from "./interfaces/IRatingToken.sol";

/**
 * @title RatingToken
 * @notice The governance token of a Node Rating P2P DAO. Holders vote on illegal-data list versions,
 * rating-server registrations and governance parameters.
 * @dev ERC20 + ERC20Permit + ERC20Votes on a timestamp clock (ERC-6372).
 *
 * Unlike a stock ERC20Votes token, a holder who never chose a delegate votes with their own balance:
 * {delegates} falls back to the account itself. There is no "zero voting power until you self-delegate"
 * trap. The price is that every transfer writes vote checkpoints for both sides, which costs more gas
 * than a token where most holders never delegate.
 */
contract RatingToken is ERC20, ERC20Permit, ERC20Votes, IRatingToken {
    /**
     * @notice Creates the token and mints the initial distribution.
     * @param name_ Token name, also the EIP-712 domain name used by permits and delegation by signature.
     * @param symbol_ Token symbol.
     * @param holders Accounts that receive the initial supply.
     * @param amounts Amount minted to each account of `holders`, in the smallest unit.
     */
    constructor(
        string memory name_,
        string memory symbol_,
        address[] memory holders,
        uint256[] memory amounts
    ) ERC20(name_, symbol_) ERC20Permit(name_) {
        if (holders.length != amounts.length) {
            revert RatingTokenDistributionLengthMismatch(holders.length, amounts.length);
        }
        for (uint256 i = 0; i < holders.length; ++i) {
            _mint(holders[i], amounts[i]);
        }
        if (totalSupply() == 0) revert RatingTokenEmptyDistribution();
    }

    /// @notice Current timepoint of the vote clock: the block timestamp (ERC-6372).
    function clock() public view override returns (uint48) {
        return Time.timestamp();
    }

    /// @notice Description of the vote clock (ERC-6372).
    // solhint-disable-next-line func-name-mixedcase
    function CLOCK_MODE() public pure override returns (string memory) {
        return "mode=timestamp";
    }

    /**
     * @notice The account that votes with `account`'s balance.
     * @dev An account that never delegated votes for itself.
     */
    function delegates(address account) public view override returns (address) {
        address chosen = super.delegates(account);
        return chosen == address(0) ? account : chosen;
    }

    /// @inheritdoc ERC20Permit
    function nonces(address owner) public view override(ERC20Permit, Nonces) returns (uint256) {
        return super.nonces(owner);
    }

    /// @dev Delegating to the zero address means "vote with my own balance again".
    function _delegate(address account, address delegatee) internal override {
        super._delegate(account, delegatee == address(0) ? account : delegatee);
    }

    function _update(address from, address to, uint256 value) internal override(ERC20, ERC20Votes) {
        super._update(from, to, value);
    }
}
