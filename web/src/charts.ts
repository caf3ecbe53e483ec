// Stacked bar charts with uPlot: each series is drawn as the running total of itself and the
// series below it, the topmost first, so every band shows its own share.
import uPlot from 'uplot';
import { h } from './dom.js';
import { usd } from './format.js';

export interface StackedData {
  labels: string[];
  series: Array<{ name: string; values: number[] }>;
}

const PALETTE = ['#4f7cff', '#f5a524', '#17c3b2', '#e5484d', '#8e4ec6', '#30a46c', '#d6409f', '#a18072', '#0091ff', '#889096'];

export function color(i: number): string {
  return PALETTE[i % PALETTE.length]!;
}

function cssVar(name: string, fallback: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || fallback;
}

/** Axis labels with as many decimals as the step needs: $0.002, $0.004 rather than $0.00 twice. */
function axisMoney(splits: number[]): string[] {
  const step = splits.length > 1 ? Math.abs(splits[1]! - splits[0]!) : 1;
  const digits = step >= 0.01 || step === 0 ? 2 : Math.min(6, Math.ceil(-Math.log10(step)));
  return splits.map((v) => `$${v.toFixed(digits)}`);
}

/** A chart that sizes itself to its box and can be given new data. */
export function stackedBars(title: string, height = 200): { el: HTMLElement; set(data: StackedData): void; destroy(): void } {
  const plotBox = h('div', { class: 'plot' });
  const legend = h('ul', { class: 'legend' });
  const empty = h('p', { class: 'empty', hidden: true }, 'No spend in this window yet.');
  const el = h('figure', { class: 'chart' }, h('figcaption', null, title), plotBox, empty, legend);
  let plot: uPlot | null = null;
  let last: StackedData | null = null;

  const draw = (): void => {
    plot?.destroy();
    plot = null;
    if (last === null) return;
    const data = last;
    const total = data.series.reduce((s, x) => s + x.values.reduce((a, v) => a + v, 0), 0);
    empty.hidden = total > 0;
    legend.replaceChildren(
      ...data.series.map((s, i) => {
        const sw = h('span', { class: 'swatch' });
        sw.style.background = color(i);
        return h('li', null, sw, `${s.name} `, h('span', { class: 'num' }, usd(s.values.reduce((a, v) => a + v, 0))));
      }),
    );
    const width = Math.max(240, plotBox.clientWidth);
    const xs = data.labels.map((_, i) => i);
    // Cumulative sums, bottom series first.
    const stacks: number[][] = [];
    data.series.forEach((s, i) => stacks.push(s.values.map((v, j) => v + (i > 0 ? stacks[i - 1]![j]! : 0))));
    const order = stacks.map((_, i) => i).reverse();
    const grid = cssVar('--grid', '#8883');
    const text = cssVar('--muted', '#888');
    const bars = uPlot.paths.bars!({ size: [0.7, 48], align: 0 });
    const opts: uPlot.Options = {
      width,
      height,
      legend: { show: false },
      cursor: { points: { show: false }, drag: { x: false, y: false } },
      scales: { x: { time: false, range: [-0.5, data.labels.length - 0.5] }, y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] } },
      axes: [
        { stroke: text, grid: { show: false }, ticks: { show: false }, values: (_u, splits) => splits.map((v) => data.labels[v] ?? ''), space: 28 },
        { stroke: text, grid: { stroke: grid, width: 1 }, ticks: { show: false }, values: (_u, splits) => axisMoney(splits), size: 64 },
      ],
      series: [{}, ...order.map((i) => ({ label: data.series[i]!.name, fill: color(i), stroke: color(i), width: 0, paths: bars, points: { show: false } }))],
    };
    plot = new uPlot(opts, [xs, ...order.map((i) => stacks[i]!)], plotBox);
  };

  const ro = new ResizeObserver(() => {
    if (plot !== null && Math.abs(plot.width - plotBox.clientWidth) > 4) draw();
  });
  ro.observe(plotBox);

  return {
    el,
    set(data) {
      last = data;
      if (plotBox.isConnected) draw();
      else requestAnimationFrame(draw);
    },
    destroy() {
      ro.disconnect();
      plot?.destroy();
    },
  };
}
