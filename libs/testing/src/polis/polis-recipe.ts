import type { PolisConversation } from './polis-conversation.js';

/**
 * Polis's own way of finding opinion groups, re-run on an export's votes: how far the published
 * groups can be recovered from the vote matrix at all, which bounds what any method without the
 * groups can reach against Polis's group-informed consensus.
 *
 * The recipe as the Polis math service describes it: participants with at least
 * `min(7, comments)` votes are clustered; votes (agree 1, pass 0, disagree −1) are centred per
 * comment with missing votes imputed by the comment's mean; two principal components by power
 * iteration; each participant's projection scaled by √(comments / votes) (sparsity-aware); 2-means
 * over the projections. Polis's two-stage clustering (100 base clusters, then k = 2…5 by
 * silhouette) is approximated by plain 2-means, which is what it settles to when it picks two groups.
 */
export interface PolisRecipeResult {
  /** Recovered group (0/1) per participant in file order; −1 when not clustered. */
  readonly groupOfParticipant: Int32Array;
  /** Share of the participants Polis clustered that land in their published group (labels matched). */
  readonly agreement: number;
  readonly clustered: number;
}

const MIN_VOTES = 7;

export function polisRecipeGroups(conversation: PolisConversation): PolisRecipeResult {
  const { comments, participants } = conversation;
  const C = comments.length;
  const minVotes = Math.min(MIN_VOTES, C);
  const rows = participants.map((p) => comments.map((c) => p.votes.get(c.id)));
  const inConv = rows.map((row) => row.filter((v) => v !== undefined).length >= minVotes);
  const mean = comments.map((_, c) => {
    let sum = 0;
    let n = 0;
    rows.forEach((row, u) => {
      const v = row[c];
      if (inConv[u] && v !== undefined) {
        sum += v;
        n++;
      }
    });
    return n > 0 ? sum / n : 0;
  });
  const centred = rows.map((row) => row.map((v, c) => (v === undefined ? 0 : v - mean[c]!)));
  const members = centred.flatMap((_, u) => (inConv[u] ? [u] : []));

  const components: number[][] = [];
  for (let k = 0; k < 2; k++) {
    let v = Array.from({ length: C }, (_, i) => Math.sin(i + 1 + k));
    for (let iteration = 0; iteration < 300; iteration++) {
      const next = new Array<number>(C).fill(0);
      for (const u of members) {
        const row = centred[u]!;
        const d = dot(row, v);
        for (let c = 0; c < C; c++) next[c]! += d * row[c]!;
      }
      for (const previous of components) {
        const d = dot(next, previous);
        for (let c = 0; c < C; c++) next[c]! -= d * previous[c]!;
      }
      const norm = Math.hypot(...next) || 1;
      v = next.map((x) => x / norm);
    }
    components.push(v);
  }
  const projection = centred.map((row, u) => {
    const scale = Math.sqrt(C / Math.max(1, rows[u]!.filter((v) => v !== undefined).length));
    return components.map((component) => dot(row, component) * scale);
  });

  const side = twoMeans(members.map((u) => projection[u]!));
  const groupOfParticipant = new Int32Array(participants.length).fill(-1);
  members.forEach((u, i) => (groupOfParticipant[u] = side[i]!));

  let same = 0;
  let clustered = 0;
  participants.forEach((p, u) => {
    if (p.groupId === null || groupOfParticipant[u]! < 0) return;
    clustered++;
    if (groupOfParticipant[u] === conversation.groupIds.indexOf(p.groupId)) same++;
  });
  return { groupOfParticipant, agreement: clustered > 0 ? Math.max(same, clustered - same) / clustered : 0, clustered };
}

function dot(a: readonly number[], b: readonly number[]): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

/** Lloyd's 2-means from a deterministic start: the point farthest from the mean, then the point farthest from it. */
function twoMeans(points: readonly number[][]): number[] {
  const distance = (a: readonly number[], b: readonly number[]) => a.reduce((s, x, j) => s + (x - b[j]!) ** 2, 0);
  const centre = points[0]!.map((_, j) => points.reduce((s, p) => s + p[j]!, 0) / points.length);
  const farthest = (from: readonly number[]) => points.reduce((best, p) => (distance(p, from) > distance(best, from) ? p : best));
  const first = farthest(centre);
  let centres = [first, farthest(first)];
  let assignment: number[] = [];
  for (let iteration = 0; iteration < 100; iteration++) {
    assignment = points.map((p) => (distance(p, centres[0]!) <= distance(p, centres[1]!) ? 0 : 1));
    centres = [0, 1].map((g) => {
      const mine = points.filter((_, i) => assignment[i] === g);
      return centre.map((_, j) => mine.reduce((s, p) => s + p[j]!, 0) / Math.max(1, mine.length));
    });
  }
  return assignment;
}
