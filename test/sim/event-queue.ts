import { expect } from 'chai';
import { EventQueue } from '../../src/sim/event-queue.js';
import { Random } from '../../src/sim/random.js';

describe('sim: event queue', () => {
  it('takes events by time, and events at the same time in the order they were scheduled', () => {
    const queue = new EventQueue<string>();
    const random = new Random(5);
    const expected: [number, string][] = [];
    for (let i = 0; i < 500; i++) {
      const time = random.int(50);
      queue.schedule(time, `e${i}`);
      expected.push([time, `e${i}`]);
    }
    expected.sort((x, y) => x[0] - y[0] || Number(x[1].slice(1)) - Number(y[1].slice(1)));
    expect(queue.size).to.equal(500);
    expect(queue.peekTime()).to.equal(expected[0][0]);
    const taken: [number, string][] = [];
    for (let next = queue.next(); next; next = queue.next()) taken.push([next.time, next.event]);
    expect(taken).to.deep.equal(expected);
    expect(queue.next()).to.equal(undefined);
    expect(queue.peekTime()).to.equal(undefined);
  });
});
