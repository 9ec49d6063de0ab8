/**
 * Feed cursors: opaque to clients, unique per item, and ours alone. A cursor names the last item
 * of the page it ended (its sort key and CID), so the next page starts strictly after it and no
 * post appears twice, even when several posts share a sort key.
 *
 * Format: `<prefix>::<sortKey>::<cid>` where the prefix says which ordering produced it, e.g.
 * `t::1763000000000123::bafy…` (time, µs), `s42::17::bafy…` (rank 17 of score snapshot 42) or
 * `e1764748800000::3::bafy…` (the third post of the digest edition of that cadence point).
 */

export interface FeedCursor {
  /** Ordering the cursor belongs to: `t` for time order, `s<snapshot>` for a score snapshot, `e<edition>` for a digest edition. */
  ordering: string;
  /** Integer sort key of the last item (time in µs, or rank). */
  sortKey: number;
  cid: string;
}

export class InvalidCursorError extends Error {
  override name = 'InvalidCursorError';
}

const CURSOR = /^(t|[se]\d{1,20})::(\d{1,20})::([a-z2-7]{8,100}|[A-Za-z0-9]{8,100})$/;

export function encodeFeedCursor(cursor: FeedCursor): string {
  return `${cursor.ordering}::${cursor.sortKey}::${cursor.cid}`;
}

export function decodeFeedCursor(text: string): FeedCursor {
  const match = CURSOR.exec(text);
  if (!match) throw new InvalidCursorError('cursor was not issued by this feed generator');
  const sortKey = Number(match[2]);
  if (!Number.isSafeInteger(sortKey)) throw new InvalidCursorError('cursor is out of range');
  return { ordering: match[1]!, sortKey, cid: match[3]! };
}
