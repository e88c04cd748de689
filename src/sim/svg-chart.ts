/**
 * A line chart as a standalone SVG document: axes with ticks, a grid, one
 * polyline with markers per series, dashed reference lines (targets) and a
 * legend. No dependencies; enough for the simulator's reports.
 */

export interface ChartSeries {
  name: string;
  points: readonly [number, number][];
  /** A CSS colour; a palette colour by default. */
  color?: string;
}

export interface ReferenceLine {
  label: string;
  /** On the y axis. */
  y: number;
  color?: string;
}

export interface LineChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  series: readonly ChartSeries[];
  references?: readonly ReferenceLine[];
  /** Axis ranges; by default from the data (y from 0). */
  xDomain?: [number, number];
  yDomain?: [number, number];
  /** How tick values are written, e.g. as percentages. */
  formatX?: (value: number) => string;
  formatY?: (value: number) => string;
  width?: number;
  height?: number;
}

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b'];

/** The chart as an SVG document. */
export function lineChart(options: LineChartOptions): string {
  const width = options.width ?? 720;
  const height = options.height ?? 400;
  // The legend sits above the plot, two entries a row, so it never hides a line.
  const legendRows = Math.ceil(options.series.length / 2);
  const margin = { top: 48 + legendRows * 18, right: 24, bottom: 56, left: 72 };
  const plotWidth = width - margin.left - margin.right;
  const plotHeight = height - margin.top - margin.bottom;
  const xs = options.series.flatMap((s) => s.points.map(([x]) => x));
  const ys = [
    ...options.series.flatMap((s) => s.points.map(([, y]) => y)),
    ...(options.references ?? []).map((r) => r.y),
  ];
  const [x0, x1] = options.xDomain ?? [Math.min(...xs, 0), Math.max(...xs, 1)];
  const [y0, y1] = options.yDomain ?? [0, niceCeiling(Math.max(...ys, 0))];
  const formatX = options.formatX ?? formatNumber;
  const formatY = options.formatY ?? formatNumber;
  const sx = (x: number) => margin.left + (x1 === x0 ? 0 : ((x - x0) / (x1 - x0)) * plotWidth);
  const sy = (y: number) =>
    margin.top + plotHeight - (y1 === y0 ? 0 : ((clamp(y, y0, y1) - y0) / (y1 - y0)) * plotHeight);

  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12" role="img">`,
    // Screen readers (and Biome's a11y rules) need a title on an image.
    `<title>${escapeXml(options.title)}</title>`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    `<text x="${width / 2}" y="24" text-anchor="middle" font-size="15" font-weight="bold">${escapeXml(options.title)}</text>`,
  );
  for (const tick of ticks(y0, y1)) {
    const y = sy(tick);
    parts.push(
      `<line x1="${margin.left}" y1="${y}" x2="${margin.left + plotWidth}" y2="${y}" stroke="#e5e5e5"/>`,
      `<text x="${margin.left - 8}" y="${y + 4}" text-anchor="end">${escapeXml(formatY(tick))}</text>`,
    );
  }
  for (const tick of ticks(x0, x1)) {
    const x = sx(tick);
    parts.push(
      `<line x1="${x}" y1="${margin.top + plotHeight}" x2="${x}" y2="${margin.top + plotHeight + 5}" stroke="#333"/>`,
      `<text x="${x}" y="${margin.top + plotHeight + 20}" text-anchor="middle">${escapeXml(formatX(tick))}</text>`,
    );
  }
  parts.push(
    `<line x1="${margin.left}" y1="${margin.top}" x2="${margin.left}" y2="${margin.top + plotHeight}" stroke="#333"/>`,
    `<line x1="${margin.left}" y1="${margin.top + plotHeight}" x2="${margin.left + plotWidth}" y2="${margin.top + plotHeight}" stroke="#333"/>`,
    `<text x="${margin.left + plotWidth / 2}" y="${height - 14}" text-anchor="middle">${escapeXml(options.xLabel)}</text>`,
    `<text transform="translate(18 ${margin.top + plotHeight / 2}) rotate(-90)" text-anchor="middle">${escapeXml(options.yLabel)}</text>`,
  );
  for (const [i, reference] of (options.references ?? []).entries()) {
    const y = sy(reference.y);
    const color = reference.color ?? '#777';
    parts.push(
      `<line x1="${margin.left}" y1="${y}" x2="${margin.left + plotWidth}" y2="${y}" stroke="${color}" stroke-dasharray="6 4"/>`,
      // Alternate sides, so two references at about the same height keep readable labels.
      i % 2 === 0
        ? `<text x="${margin.left + 6}" y="${y - 4}" fill="${color}">${escapeXml(reference.label)}</text>`
        : `<text x="${margin.left + plotWidth - 6}" y="${y - 4}" text-anchor="end" fill="${color}">${escapeXml(reference.label)}</text>`,
    );
  }
  options.series.forEach((series, i) => {
    const color = series.color ?? PALETTE[i % PALETTE.length];
    const points = series.points.map(([x, y]) => `${round(sx(x))},${round(sy(y))}`);
    if (points.length > 1) {
      parts.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${points.join(' ')}"/>`);
    }
    for (const point of points) {
      const [x, y] = point.split(',');
      parts.push(`<circle cx="${x}" cy="${y}" r="3" fill="${color}"/>`);
    }
    const ly = 44 + Math.floor(i / 2) * 18;
    const lx = margin.left + (i % 2) * (plotWidth / 2);
    parts.push(
      `<line x1="${lx}" y1="${ly}" x2="${lx + 20}" y2="${ly}" stroke="${color}" stroke-width="2"/>`,
      `<text x="${lx + 26}" y="${ly + 4}">${escapeXml(series.name)}</text>`,
    );
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

/** A percentage with up to one decimal: 0.0123 → "1.2%". */
export function formatPercent(value: number): string {
  const percent = value * 100;
  return `${Number.isInteger(percent) ? percent : percent.toFixed(1)}%`;
}

function formatNumber(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toFixed(2).replace(/0+$/, '');
}

/** About five round tick values from `min` to `max`. */
function ticks(min: number, max: number): number[] {
  if (!(max > min)) return [min];
  const step = niceStep((max - min) / 5);
  const result: number[] = [];
  for (let value = Math.ceil(min / step) * step; value <= max + step * 1e-9; value += step) {
    result.push(Number(value.toPrecision(12)));
  }
  return result;
}

function niceStep(raw: number): number {
  const power = 10 ** Math.floor(Math.log10(raw));
  const fraction = raw / power;
  return (fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10) * power;
}

/** A round number at or above `value`, for the top of an axis. */
function niceCeiling(value: number): number {
  if (value <= 0) return 1;
  const step = niceStep(value / 5);
  return Math.ceil(value / step) * step;
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}

function round(value: number): number {
  return Math.round(value * 10) / 10;
}

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
