const DAY_MS = 86_400_000;

/** Epochs are consecutive spans of `days` days from the Unix epoch; budgets end with theirs. */
export function epochOf(timeMs: number, days: number): number {
  return Math.floor(timeMs / (days * DAY_MS));
}

export function epochBounds(epoch: number, days: number): { startMs: number; endMs: number } {
  return { startMs: epoch * days * DAY_MS, endMs: (epoch + 1) * days * DAY_MS };
}
