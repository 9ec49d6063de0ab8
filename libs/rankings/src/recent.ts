/** A post in time order: when it was created (µs) and its CID, which breaks ties. */
interface TimedPost {
  timeUs: number;
  cid: string;
}

/**
 * `recent`: newest first, ties broken by CID (descending), so a `time::cid` cursor names one place.
 * Served live from the posts table, not from snapshots: a snapshot would only make it late.
 * True when `post` comes after `cursor` in that order (belongs on a later page).
 */
export function comesAfterInRecent(post: TimedPost, cursor: TimedPost): boolean {
  return post.timeUs < cursor.timeUs || (post.timeUs === cursor.timeUs && post.cid < cursor.cid);
}
