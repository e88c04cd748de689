import { expect } from 'chai';
import {
  type AbiParameter,
  BaseError,
  ContractFunctionRevertedError,
  encodeErrorResult,
  type Hex,
  toFunctionSelector,
  zeroAddress,
} from 'viem';
import { decodeRevertData, describeContractError, nrpErrorAbi } from '../../src/chain/describe-error.js';
import { ProposalNotFoundError } from '../../src/chain/errors.js';

/** A value of Solidity type `type`, for encoding a sample of every error. */
function sampleValue({ type }: AbiParameter): unknown {
  if (type === 'address') return zeroAddress;
  if (type === 'bool') return true;
  if (type === 'string') return 'sample';
  if (type === 'bytes') return '0x1220abcd';
  if (type === 'bytes32') return `0x${'11'.repeat(32)}`;
  if (type.startsWith('uint') || type.startsWith('int')) return 3n;
  throw new Error(`No sample for ${type}`);
}

/** A revert as viem reports it when the ABI of the call did not know the error. */
function revertWith(data: Hex) {
  return new ContractFunctionRevertedError({ abi: [], data, functionName: 'someFunction' });
}

describe('chain client: describeContractError', () => {
  it('has a plain-English sentence for every custom error of every DAO contract', () => {
    expect(nrpErrorAbi.length).to.be.greaterThan(60);
    for (const item of nrpErrorAbi) {
      const data = encodeErrorResult({
        abi: [item],
        errorName: item.name,
        args: item.inputs.map(sampleValue),
      } as Parameters<typeof encodeErrorResult>[0]);
      expect(decodeRevertData(data)?.errorName).to.equal(item.name);
      const sentence = describeContractError(revertWith(data));
      expect(sentence, item.name).to.match(/^[A-Z0-9`"].*[.)]$/);
      expect(sentence, item.name).not.to.match(/undefined|\[object|does not know/);
    }
  });

  it('names the states a Governor needed', () => {
    const item = nrpErrorAbi.find((error) => error.name === 'GovernorUnexpectedProposalState');
    // Expected: succeeded (bit 4) or queued (bit 5); current: defeated (3).
    const data = encodeErrorResult({
      abi: [item as NonNullable<typeof item>],
      errorName: 'GovernorUnexpectedProposalState',
      args: [42n, 3, `0x${((1n << 4n) | (1n << 5n)).toString(16).padStart(64, '0')}`],
    });
    expect(describeContractError(revertWith(data))).to.equal(
      'Proposal 42 is defeated, but this needs it to be succeeded or queued.',
    );
  });

  it('falls back to the revert reason, the unknown selector, or the error message', () => {
    const reason = encodeErrorResult({
      abi: [{ type: 'error', name: 'Error', inputs: [{ type: 'string', name: 'message' }] }],
      errorName: 'Error',
      args: ['not allowed'],
    });
    expect(describeContractError(revertWith(reason))).to.equal('The contract refused the call: not allowed.');
    const unknown = toFunctionSelector('error SomethingElse(uint256)');
    expect(describeContractError(revertWith(`${unknown}${'00'.repeat(32)}`))).to.equal(
      `The contract refused the call with an error this client does not know (${unknown}).`,
    );
    expect(describeContractError(revertWith('0x'))).to.equal('The contract refused the call without giving a reason.');
    expect(describeContractError(new ProposalNotFoundError(zeroAddress, 7n))).to.equal(
      `Proposal 7 not found on Governor ${zeroAddress}: the Governor has no such proposal.`,
    );
    expect(describeContractError(new BaseError('Short message', { details: 'long details' }))).to.equal(
      'Short message',
    );
    expect(describeContractError(new Error('plain'))).to.equal('plain');
    expect(describeContractError('a string')).to.equal('a string');
  });
});
