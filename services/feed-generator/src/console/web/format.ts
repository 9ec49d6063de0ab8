/** How the console writes numbers, durations and times: English, no surprises, '—' for unknown. */

const known = (value: number | null | undefined): value is number => value !== null && value !== undefined && Number.isFinite(value);

export function formatCount(value: number | null | undefined): string {
  return known(value) ? Math.round(value).toLocaleString('en-US') : '—';
}

export function formatRate(value: number | null | undefined): string {
  if (!known(value)) return '—';
  return `${(value >= 100 ? Math.round(value) : Math.round(value * 10) / 10).toLocaleString('en-US')}/s`;
}

export function formatDuration(seconds: number | null | undefined): string {
  if (!known(seconds)) return '—';
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172_800) return `${Math.round(seconds / 360) / 10} h`;
  return `${Math.round(seconds / 8640) / 10} days`;
}

export function formatTime(ms: number): string {
  return new Date(ms).toLocaleTimeString('en-GB', { hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

/** A score component's value: integers with separators, other numbers to four digits, text as is. */
export function formatValue(value: unknown): string {
  if (typeof value === 'number') return Number.isInteger(value) ? value.toLocaleString('en-US') : value.toPrecision(4);
  if (typeof value === 'string') return value;
  return JSON.stringify(value);
}

export function plural(count: number, one: string, many: string): string {
  return `${count} ${count === 1 ? one : many}`;
}
