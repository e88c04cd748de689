import { expect } from 'chai';
import { PollingLoop } from '../../src/utils/polling-loop.js';

describe('PollingLoop', () => {
  it('ticks at once and then on its interval, survives a failing tick, and stops', async () => {
    const loop = new PollingLoop();
    const errors: string[] = [];
    let ticks = 0;
    await loop.start(
      async () => {
        ticks++;
        if (ticks === 2) throw new Error('transient');
      },
      { intervalMs: 10, onError: (e) => errors.push(e.message) },
    );
    expect(ticks).to.equal(1);
    await new Promise((resolve) => setTimeout(resolve, 100));
    await loop.stop();
    const stoppedAt = ticks;
    expect(stoppedAt).to.be.greaterThan(3);
    expect(errors).to.deep.equal(['transient']);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(ticks).to.equal(stoppedAt);
    expect(loop.running).to.equal(false);
  });
});
