import { expect } from 'chai';
import { CommanderError } from 'commander';
import { DEFAULT_NODES, parseDemoCommandLine } from '../../src/demo/options.js';

/** Commander prints errors itself; these tests only look at what is thrown. */
function quietly<T>(fn: () => T): T {
  const write = process.stderr.write;
  process.stderr.write = () => true;
  try {
    return fn();
  } finally {
    process.stderr.write = write;
  }
}

describe('demo command line', () => {
  it('has defaults that need no flags', () => {
    expect(parseDemoCommandLine([])).to.deep.equal({ nodes: DEFAULT_NODES, seed: 1, keep: false, workDir: undefined });
  });

  it('takes --nodes, --seed, --keep and --work-dir', () => {
    expect(parseDemoCommandLine(['--nodes', '8', '--seed', '42', '--keep', '--work-dir', '/tmp/d'])).to.deep.equal({
      nodes: 8,
      seed: 42,
      keep: true,
      workDir: '/tmp/d',
    });
  });

  for (const args of [['--nodes', '3'], ['--nodes', 'many'], ['--nodes', '41'], ['--seed', '-1'], ['--frobnicate']]) {
    it(`refuses ${args.join(' ')} with a usage error`, () => {
      const error = quietly(() => {
        try {
          parseDemoCommandLine(args);
        } catch (caught) {
          return caught;
        }
        return undefined;
      });
      expect(error).to.be.instanceOf(CommanderError);
      expect((error as CommanderError).exitCode).to.equal(1);
    });
  }
});
