import { expect } from 'chai';
import { formatPercent, lineChart } from '../../src/sim/svg-chart.js';

describe('sim: SVG line charts', () => {
  it('draws one line per series, the reference lines dashed, with labelled axes and a legend', () => {
    const svg = lineChart({
      title: 'Reach <by> coverage & more',
      xLabel: 'coverage',
      yLabel: 'share',
      formatY: formatPercent,
      series: [
        {
          name: 'reach',
          points: [
            [0, 0.8],
            [0.5, 0.2],
            [1, 0],
          ],
        },
        {
          name: 'false positives',
          points: [
            [0, 0],
            [1, 0.01],
          ],
        },
      ],
      references: [{ label: 'target 2%', y: 0.02 }],
    });
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).to.equal(true);
    expect(svg.trimEnd().endsWith('</svg>')).to.equal(true);
    expect(svg.match(/<polyline /g)).to.have.length(2);
    expect(svg.match(/<circle /g)).to.have.length(5);
    expect(svg).to.include('stroke-dasharray="6 4"');
    expect(svg).to.include('Reach &lt;by&gt; coverage &amp; more');
    expect(svg).to.include('>reach</text>').and.include('>false positives</text>').and.include('>target 2%</text>');
    // The y axis runs from 0 to a round number above the largest value, in percent.
    expect(svg).to.include('>0%</text>').and.include('>80%</text>');
    // Points stay inside the plot: x from the left margin to the right one.
    for (const [, x] of svg.matchAll(/<circle cx="([\d.]+)"/g)) expect(Number(x)).to.be.within(72, 696);
  });

  it('writes percentages with at most one decimal', () => {
    expect(formatPercent(0.0123)).to.equal('1.2%');
    expect(formatPercent(0.5)).to.equal('50%');
    expect(formatPercent(0)).to.equal('0%');
  });
});
