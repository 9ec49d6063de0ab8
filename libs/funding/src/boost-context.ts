/** The `feedContext` limit of `app.bsky.feed.getFeedSkeleton` (UTF-8 bytes). */
const FEED_CONTEXT_MAX_BYTES = 2000;

/**
 * A boosted item's `feedContext`: the provenance JSON plus `f` (the funding communities) and `e`
 * (the epoch). Clients see that the item is boosted and by whom; the impressions the feed generator
 * records carry it, and the ranker charges those funds from them. Provenance names give way first
 * when the whole would pass the limit.
 */
export function boostedContext(feedContext: string, funds: readonly string[], epoch: number): string {
  let base: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(feedContext);
    base = typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : { v: 1 };
  } catch {
    base = { v: 1 };
  }
  const text = JSON.stringify({ ...base, f: funds, e: epoch });
  if (Buffer.byteLength(text) <= FEED_CONTEXT_MAX_BYTES) return text;
  return JSON.stringify({ v: 1, b: [], d: [], f: funds, e: epoch });
}

/** The funds and epoch a served item's `feedContext` names, or undefined for an item nobody boosted. */
export function boostOfContext(feedContext: string | null): { funds: string[]; epoch: number } | undefined {
  if (!feedContext || !namesFunds(feedContext)) return undefined;
  try {
    const parsed = JSON.parse(feedContext) as { f?: unknown; e?: unknown };
    const { f, e } = parsed;
    if (!Array.isArray(f) || !Number.isSafeInteger(e) || (e as number) < 0) return undefined;
    const funds = [...new Set(f.filter((name): name is string => typeof name === 'string' && name.length > 0 && name.length <= 64))];
    return funds.length > 0 ? { funds, epoch: e as number } : undefined;
  } catch {
    return undefined;
  }
}

const QUOTE = 0x22;

/**
 * Whether `feedContext` holds `"f"` (the funds' key): `includes('"f"')`, written out. Every served
 * page asks it of each of its items, and a personal order of each post it weighs; V8 searches for a
 * pattern of several characters ~10× slower than for one (110 against 10 ns in a 45-character
 * context, measured), and provenance contexts are mostly without an `f`.
 */
export function namesFunds(feedContext: string): boolean {
  for (let at = feedContext.indexOf('f', 1); at >= 0; at = feedContext.indexOf('f', at + 1)) {
    if (feedContext.charCodeAt(at - 1) === QUOTE && feedContext.charCodeAt(at + 1) === QUOTE) return true;
  }
  return false;
}
