import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import { html } from './html.js';

export interface Point {
  /** Unix ms. */
  at: number;
  value: number | null;
}

const HEIGHT = 120;

/** Colours of the chart from the stylesheet's custom properties, so light and dark themes both hold. */
function colours(element: Element) {
  const style = getComputedStyle(element);
  const read = (name: string) => style.getPropertyValue(name).trim();
  return { line: read('--chart'), fill: read('--chart-fill'), axis: read('--muted'), grid: read('--line'), background: read('--bg') };
}

/** Tick labels of the time axis: the time of day, to the second when the chart spans minutes only. */
function clockTimes(plot: uPlot, splits: number[]): string[] {
  const { min = 0, max = 0 } = plot.scales['x'] ?? {};
  const format: Intl.DateTimeFormatOptions = max - min < 600 ? { hour: '2-digit', minute: '2-digit', second: '2-digit' } : { hour: '2-digit', minute: '2-digit' };
  return splits.map((seconds) => new Date(seconds * 1000).toLocaleTimeString('en-GB', format));
}

function options(element: HTMLElement, label: string, format: (value: number) => string): uPlot.Options {
  const { line, fill, axis, grid, background } = colours(element);
  const font = '11px system-ui, sans-serif';
  return {
    width: element.clientWidth,
    height: HEIGHT,
    legend: { show: false },
    cursor: { drag: { x: false, y: false } },
    scales: { x: { time: true }, y: { range: (_plot, _min, max) => [0, max > 0 ? max * 1.1 : 1] } },
    series: [{}, { label, stroke: line, fill, width: 2, points: { fill: background }, value: (_plot, value) => (value === null ? '—' : format(value)) }],
    axes: [
      { stroke: axis, font, space: 60, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 }, values: clockTimes },
      { stroke: axis, font, size: 64, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 }, values: (_plot, splits) => splits.map(format) },
    ],
  };
}

/**
 * A time series drawn by uPlot, with gaps where a value is missing. An image to assistive
 * technology, described by `description`; with fewer than two values, `empty` in words instead.
 */
export function TimeSeriesChart({ label, series, format, description, empty }: { label: string; series: Point[]; format: (value: number) => string; description: string; empty: string }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const drawable = series.filter((point) => point.value !== null).length >= 2;
  const data: uPlot.AlignedData = [series.map((point) => point.at / 1000), series.map((point) => point.value)];

  useEffect(() => {
    const element = box.current;
    if (!drawable || !element) return undefined;
    const chart = new uPlot(options(element, label, format), data, element);
    const resize = new ResizeObserver(() => chart.setSize({ width: element.clientWidth, height: HEIGHT }));
    resize.observe(element);
    plot.current = chart;
    return () => {
      resize.disconnect();
      chart.destroy();
      plot.current = null;
    };
    // Made once while there is something to draw; new data goes to setData below.
  }, [drawable]);
  useEffect(() => {
    plot.current?.setData(data);
  }, [series]);

  // Nothing drawn: the words are the content, not the description of a chart that is not there.
  if (!drawable) return html`<div class="plot" ref=${box}><p class="empty">${empty}</p></div>`;
  return html`<div class="plot" role="img" aria-label=${description} ref=${box}></div>`;
}
