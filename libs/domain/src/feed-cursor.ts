/**
 * Feed cursors: opaque to clients, unique per item, and ours alone. A cursor names the last item
 * of the page it ended (its sort key and CID), so the next page starts strictly after it and no
 * post appears twice, even when several posts share a sort key.
 *
 * Format: `<prefix>::<sortKey>::<cid>` where the prefix says which ordering produced it, e.g.
 * `t::1763000000000123::bafy…` (time, µs), `s42::17::bafy…` (rank 17 of score snapshot 42),
 * `e1764748800000::3::bafy…` (the third post of the digest edition of that cadence point), or
 * `p42-1763000000000::17::bafy…` (position 17 of one viewer's personal order of snapshot 42, with
 * their feedback as of the session that began at that ms: see `personalOrdering`), or
 * `p42-1763000000000r::512::bafy…` (the rest of that session past its personal order: rank 512 of
 * the snapshot). Every number fits a safe integer: a cursor that does not is refused.
 */

export interface FeedCursor {
  /**
   * Ordering the cursor belongs to: `t` for time order, `s<snapshot>` for a score snapshot,
   * `e<edition>` for a digest edition, `p<snapshot>-<sessionMs>` for a personal order (`…r` past it).
   */
  ordering: string;
  /** Integer sort key of the last item (time in µs, or rank). */
  sortKey: number;
  cid: string;
}

export class InvalidCursorError extends Error {
  override name = 'InvalidCursorError';
}

const CURSOR = /^(t|[se]\d{1,16}|p\d{1,16}-\d{1,16}r?)::(\d{1,16})::([a-z2-7]{8,100}|[A-Za-z0-9]{8,100})$/;
const ORDERING_NUMBER = /^[sep](\d+)/;

export function encodeFeedCursor(cursor: FeedCursor): string {
  return `${cursor.ordering}::${cursor.sortKey}::${cursor.cid}`;
}

export function decodeFeedCursor(text: string): FeedCursor {
  const match = CURSOR.exec(text);
  if (!match) throw new InvalidCursorError('cursor was not issued by this feed generator');
  const sortKey = Number(match[2]);
  const numbered = ORDERING_NUMBER.exec(match[1]!);
  if (!Number.isSafeInteger(sortKey) || (numbered && !Number.isSafeInteger(Number(numbered[1])))) throw new InvalidCursorError('cursor is out of range');
  return { ordering: match[1]!, sortKey, cid: match[3]! };
}

/**
 * A viewer's personal order of a score snapshot, pinned to their feedback as of `sessionMs`;
 * `rest`: the same session past the depth its personal order covers (sort keys are ranks).
 */
export interface PersonalOrdering {
  snapshot: number;
  sessionMs: number;
  rest?: boolean;
}

export function personalOrdering(ordering: PersonalOrdering): string {
  return `p${ordering.snapshot}-${ordering.sessionMs}${ordering.rest ? 'r' : ''}`;
}

/** The personal ordering a cursor's ordering names, or undefined for any other ordering. */
export function parsePersonalOrdering(ordering: string): PersonalOrdering | undefined {
  const match = /^p(\d{1,16})-(\d{1,16})(r?)$/.exec(ordering);
  if (!match) return undefined;
  const snapshot = Number(match[1]);
  const sessionMs = Number(match[2]);
  if (!Number.isSafeInteger(snapshot) || !Number.isSafeInteger(sessionMs)) throw new InvalidCursorError('cursor is out of range');
  return { snapshot, sessionMs, ...(match[3] && { rest: true }) };
}
