import { PassThrough } from 'node:stream';
import { expect } from 'chai';
import { Claims, formatTable, type NodeRow, STEPS, Timeline } from '../../src/demo/report.js';

function capture() {
  const out = new PassThrough();
  let text = '';
  out.on('data', (chunk) => {
    text += chunk;
  });
  return { out, text: () => text };
}

describe('demo report', () => {
  it('prints steps with a progress bar, and claims with their outcome', () => {
    const { out, text } = capture();
    const timeline = new Timeline(out, { tty: false });
    timeline.setup('starting');
    timeline.step(3, 'detail');
    timeline.info('something happened');
    const claims = new Claims(timeline);
    expect(claims.allHold, 'no claims, nothing proven').to.equal(false);
    claims.check('a', true, 'a holds');
    claims.check('b', false, 'b fails', 'seen: x');
    const lines = text().split('\n');
    expect(lines[0]).to.match(/^\[00:00\.\d\] setup {2}starting$/);
    expect(text()).to.include(`[■■■□□□□] 3/${STEPS.length} ${STEPS[2]} — detail`);
    expect(text()).to.match(/✓ {4}a holds\n/);
    expect(text()).to.match(/✗ {4}b fails \(seen: x\)\n/);
    expect(claims.toJSON()).to.deep.equal({ a: true, b: false });
    expect(claims.allHold).to.equal(false);
  });

  it('keeps the worst outcome of a claim checked twice', () => {
    const claims = new Claims(new Timeline(new PassThrough(), { tty: false }));
    claims.check('c', false, 'first');
    claims.check('c', true, 'again');
    expect(claims.toJSON()).to.deep.equal({ c: false });
    claims.check('d', true, 'holds');
    expect(claims.results.get('d')?.holds).to.equal(true);
  });

  it('formats the final table in aligned columns', () => {
    const row = (name: string, verdicts: string): NodeRow => ({
      name,
      role: 'honest',
      follows: 's1 high, s2 low',
      verdicts,
      applies: '-',
      penalisedBy: '-',
      listedHeld: 'no',
    });
    const lines = formatTable([row('n00', '-'), row('dist', 's1 black, s2 black')]).split('\n');
    expect(lines).to.have.length(4);
    expect(lines[0]).to.match(/^node {2}role {4}/);
    const column = lines[0].indexOf('verdicts on it');
    expect(lines[2].indexOf('-', column)).to.equal(column);
    expect(lines[3].indexOf('s1 black', column)).to.equal(column);
  });
});
