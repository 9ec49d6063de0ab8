interface WaitOptions {
  timeoutMs?: number;
  intervalMs?: number;
  /** Extra text for the timeout error, e.g. the last log lines of the processes involved. */
  context?: () => string;
}

/**
 * Polls `probe` until it returns something other than `undefined` or `false`, and resolves with
 * it. A probe that throws counts as "not yet" (a server still starting, say). Rejects after the
 * timeout with `what` in the message.
 */
export async function waitFor<T>(
  what: string,
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  options: WaitOptions | number = {},
): Promise<T> {
  const { timeoutMs = 60_000, intervalMs = 100, context } = typeof options === 'number' ? { timeoutMs: options } : options;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await Promise.resolve()
      .then(probe)
      .catch(() => undefined);
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${context ? `\n${context()}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
