/** The labels on one post: its CID when labelled, and the values. */
export interface PostLabels {
  cid: string;
  values: ReadonlySet<string>;
}

export interface LabelChange {
  uri: string;
  cid: string;
  val: string;
  neg: boolean;
}

/**
 * What to emit so that the labels in force become `wanted`: every wanted value not yet in force,
 * and a negation of every value in force that is no longer wanted (the post stopped qualifying,
 * left every snapshot, or was deleted). A new CID for a labelled value re-emits it for the new
 * version. Sorted by post and value, so the sequence is the same for the same inputs.
 */
export function labelChanges(inForce: ReadonlyMap<string, PostLabels>, wanted: ReadonlyMap<string, PostLabels>): LabelChange[] {
  const changes: LabelChange[] = [];
  for (const [uri, post] of wanted) {
    const current = inForce.get(uri);
    for (const val of post.values) {
      if (!current?.values.has(val) || current.cid !== post.cid) changes.push({ uri, cid: post.cid, val, neg: false });
    }
  }
  for (const [uri, current] of inForce) {
    const next = wanted.get(uri);
    for (const val of current.values) {
      if (!next?.values.has(val)) changes.push({ uri, cid: current.cid, val, neg: true });
    }
  }
  return changes.sort((a, b) => (a.uri < b.uri ? -1 : a.uri > b.uri ? 1 : a.val < b.val ? -1 : a.val > b.val ? 1 : Number(a.neg) - Number(b.neg)));
}
