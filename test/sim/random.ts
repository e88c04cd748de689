import { expect } from 'chai';
import { Random } from '../../src/sim/random.js';

describe('sim: random streams', () => {
  it('repeats a stream for the same seed and label, and separates labels and seeds', () => {
    const draw = (random: Random) => Array.from({ length: 8 }, () => random.next());
    expect(draw(new Random(1, 'a'))).to.deep.equal(draw(Random.stream(1, 'a')));
    expect(draw(new Random(1, 'a'))).to.not.deep.equal(draw(new Random(1, 'b')));
    expect(draw(new Random(1, 'a'))).to.not.deep.equal(draw(new Random(2, 'a')));
    expect(draw(new Random('x'))).to.deep.equal(draw(new Random('x')));
  });

  it('draws uniformly enough, within range', () => {
    const random = new Random(42);
    const buckets = new Array(10).fill(0);
    let outside = 0;
    for (let i = 0; i < 100_000; i++) {
      const x = random.next();
      if (!(x >= 0 && x < 1)) outside++;
      else buckets[Math.floor(x * 10)]++;
    }
    expect(outside).to.equal(0);
    for (const bucket of buckets) expect(bucket).to.be.within(9_500, 10_500);
    const ints = new Set(Array.from({ length: 1_000 }, () => random.int(7)));
    expect([...ints].sort()).to.deep.equal([0, 1, 2, 3, 4, 5, 6]);
    expect(random.bytes(32)).to.have.length(32);
    const shuffled = random.shuffle([1, 2, 3, 4, 5]);
    expect([...shuffled].sort()).to.deep.equal([1, 2, 3, 4, 5]);
  });
});
