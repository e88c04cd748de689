import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { expect } from 'chai';
import { SequenceTracker } from '../../../src/node/protocol/sequence.js';
import { expectError, newPeer, type TestPeer } from './helpers.js';

describe('protocol: SequenceTracker', () => {
  let alice: TestPeer;
  let bob: TestPeer;

  before(async () => {
    alice = await newPeer();
    bob = await newPeer();
  });

  it('accepts rising sequence numbers and refuses replays and older ones, per sender', async () => {
    const tracker = new SequenceTracker();
    expect(tracker.last(alice.id)).to.equal(undefined);
    tracker.accept(alice.id, 0);
    tracker.accept(alice.id, 5);
    const replay = await expectError(() => tracker.accept(alice.id, 5), 'ReplayedSequenceError', /5 .* 5/);
    expect(replay).to.include({ seq: 5, last: 5 });
    await expectError(() => tracker.check(alice.id, 3), 'ReplayedSequenceError');
    tracker.accept(bob.id, 1); // Bob's numbers are his own.
    tracker.accept(alice.id, 9); // Gaps are fine: a sender may have sent to other servers.
    expect(tracker.last(alice.id)).to.equal(9);
  });

  it('check does not record', () => {
    const tracker = new SequenceTracker();
    tracker.check(alice.id, 1);
    tracker.check(alice.id, 1);
    expect(tracker.last(alice.id)).to.equal(undefined);
  });

  it('knows a peer whatever form its id is given in', async () => {
    const tracker = new SequenceTracker();
    const peerId = peerIdFromPrivateKey(alice.key);
    tracker.accept(peerId, 2);
    await expectError(() => tracker.accept(alice.id, 2), 'ReplayedSequenceError');
    await expectError(() => tracker.accept(peerId.toString(), 1), 'ReplayedSequenceError');
    // A CIDv1 string of the same peer id.
    await expectError(() => tracker.accept(peerId.toCID().toString(), 2), 'ReplayedSequenceError');
  });

  it('survives a restart through toJSON and fromJSON', async () => {
    const tracker = new SequenceTracker();
    tracker.accept(alice.id, 4);
    tracker.accept(bob.id, 7);
    const restored = SequenceTracker.fromJSON(JSON.parse(JSON.stringify(tracker)));
    expect(restored.last(alice.id)).to.equal(4);
    await expectError(() => restored.accept(bob.id, 7), 'ReplayedSequenceError');
    restored.accept(bob.id, 8);
  });

  it('refuses sequence numbers that are not safe integers ≥ 0', () => {
    const tracker = new SequenceTracker();
    for (const seq of [-1, 1.5, Number.NaN, 2 ** 53]) expect(() => tracker.accept(alice.id, seq)).to.throw(RangeError);
    expect(() => SequenceTracker.fromJSON({ [alice.id.toString()]: 1 })).to.throw();
  });
});
