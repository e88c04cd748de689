import { expect } from 'chai';
import { ZeroAddress } from 'ethers';
import { daoFixture, ethers, LOCAL_AMOUNTS, networkHelpers } from './helpers/dao.js';

describe('RatingToken', () => {
  it('mints the initial distribution from deployment parameters', async () => {
    const { token, holders } = await networkHelpers.loadFixture(daoFixture);
    for (const [i, holder] of holders.entries()) {
      expect(await token.balanceOf(holder)).to.equal(LOCAL_AMOUNTS[i]);
    }
    expect(await token.totalSupply()).to.equal(LOCAL_AMOUNTS.reduce((a, b) => a + b));
    expect(await token.name()).to.equal('Node Rating Token');
    expect(await token.symbol()).to.equal('NRT');
  });

  it('uses the block timestamp as its clock (ERC-6372)', async () => {
    const { token } = await networkHelpers.loadFixture(daoFixture);
    expect(await token.CLOCK_MODE()).to.equal('mode=timestamp');
    expect(await token.clock()).to.equal(await networkHelpers.time.latest());
  });

  it('lets a holder who never delegated vote with their own balance', async () => {
    const { token, holders } = await networkHelpers.loadFixture(daoFixture);
    const [, holder] = holders;
    expect(await token.delegates(holder)).to.equal(holder.address);
    expect(await token.getVotes(holder)).to.equal(await token.balanceOf(holder));
  });

  it('gives votes to a new holder at once, and moves them on transfer', async () => {
    const { token, holders, outsiders } = await networkHelpers.loadFixture(daoFixture);
    const [sender] = holders;
    const [receiver] = outsiders;
    const before = await token.getVotes(sender);
    await token.connect(sender).transfer(receiver, 1000n);
    expect(await token.getVotes(receiver)).to.equal(1000n);
    expect(await token.getVotes(sender)).to.equal(before - 1000n);
  });

  it('moves votes to a chosen delegate, and back on delegating to the zero address', async () => {
    const { token, holders } = await networkHelpers.loadFixture(daoFixture);
    const [alice, bob] = holders;
    const aliceBalance = await token.balanceOf(alice);
    const bobVotes = await token.getVotes(bob);

    await expect(token.connect(alice).delegate(bob))
      .to.emit(token, 'DelegateChanged')
      .withArgs(alice.address, alice.address, bob.address);
    expect(await token.getVotes(alice)).to.equal(0n);
    expect(await token.getVotes(bob)).to.equal(bobVotes + aliceBalance);

    await expect(token.connect(alice).delegate(ZeroAddress))
      .to.emit(token, 'DelegateChanged')
      .withArgs(alice.address, bob.address, alice.address);
    expect(await token.delegates(alice)).to.equal(alice.address);
    expect(await token.getVotes(alice)).to.equal(aliceBalance);
    expect(await token.getVotes(bob)).to.equal(bobVotes);
  });

  it('keeps past votes and supply in checkpoints', async () => {
    const { token, holders, outsiders } = await networkHelpers.loadFixture(daoFixture);
    const before = await networkHelpers.time.latest();
    const balance = await token.balanceOf(holders[1]);
    await networkHelpers.time.increase(10);
    await token.connect(holders[1]).transfer(outsiders[0], balance);
    await networkHelpers.mine();
    expect(await token.getPastVotes(holders[1], before)).to.equal(balance);
    expect(await token.getVotes(holders[1])).to.equal(0n);
    expect(await token.getPastTotalSupply(before)).to.equal(await token.totalSupply());
  });

  it('supports permits (ERC-2612) with their own nonces', async () => {
    const { token, holders, outsiders } = await networkHelpers.loadFixture(daoFixture);
    const [owner] = holders;
    const [spender] = outsiders;
    const deadline = BigInt(await networkHelpers.time.latest()) + 3600n;
    const domain = {
      name: await token.name(),
      version: '1',
      chainId: (await ethers.provider.getNetwork()).chainId,
      verifyingContract: await token.getAddress(),
    };
    const types = {
      Permit: [
        { name: 'owner', type: 'address' },
        { name: 'spender', type: 'address' },
        { name: 'value', type: 'uint256' },
        { name: 'nonce', type: 'uint256' },
        { name: 'deadline', type: 'uint256' },
      ],
    };
    const value = 5n;
    const message = { owner: owner.address, spender: spender.address, value, nonce: 0n, deadline };
    const sig = ethers.Signature.from(await owner.signTypedData(domain, types, message));
    await token.permit(owner, spender, value, deadline, sig.v, sig.r, sig.s);
    expect(await token.allowance(owner, spender)).to.equal(value);
    expect(await token.nonces(owner)).to.equal(1n);
  });

  describe('deployment', () => {
    it('rejects holders and amounts of different lengths', async () => {
      const [a, b] = await ethers.getSigners();
      const factory = await ethers.getContractFactory('RatingToken');
      await expect(factory.deploy('T', 'T', [a, b], [1n]))
        .to.be.revertedWithCustomError(factory, 'RatingTokenDistributionLengthMismatch')
        .withArgs(2n, 1n);
    });

    it('rejects a distribution that mints nothing', async () => {
      const [a] = await ethers.getSigners();
      const factory = await ethers.getContractFactory('RatingToken');
      await expect(factory.deploy('T', 'T', [], [])).to.be.revertedWithCustomError(
        factory,
        'RatingTokenEmptyDistribution',
      );
      await expect(factory.deploy('T', 'T', [a], [0n])).to.be.revertedWithCustomError(
        factory,
        'RatingTokenEmptyDistribution',
      );
    });

    it('rejects minting to the zero address', async () => {
      const factory = await ethers.getContractFactory('RatingToken');
      await expect(factory.deploy('T', 'T', [ZeroAddress], [1n]))
        .to.be.revertedWithCustomError(factory, 'ERC20InvalidReceiver')
        .withArgs(ZeroAddress);
    });
  });
});
