import { BridgingInputError } from './errors.js';
import { validateTable, type InteractionTable } from './interaction-table.js';
import { approvalWeightTable, type ApprovalWeights } from './signal.js';

/** What one (user, post) cell says after all of the user's rows on the post are combined. */
export const CellKind = {
  /** Inferred exposure only (an exposure hint such as an active follower of the author): no row of the user on the post. */
  Exposed: 0,
  /** Seen without approval (a served impression, `interactionSeen`, or a signal whose weight is 0). Polis: pass. */
  Seen: 1,
  /** Approved; `strength` is the strongest approval weight among the user's signals. Polis: agree. */
  Approval: 2,
  /** Asked for less (`requestLess`, or any negative weight); `strength` is that weight. Polis: disagree. */
  Negative: 3,
} as const;

export type CellKind = (typeof CellKind)[keyof typeof CellKind];

/**
 * The interaction table collapsed to one cell per (user, post), stored twice: sorted by post
 * (then user) for the per-post kernels, and indexed by user for the per-user kernels.
 */
export interface RatingCells {
  readonly userCount: number;
  readonly postCount: number;
  readonly cellCount: number;
  /** CSR by post: the cells of post p are `postOffsets[p] … postOffsets[p+1]-1`. */
  readonly postOffsets: Uint32Array;
  readonly cellUser: Uint32Array;
  readonly cellPost: Uint32Array;
  readonly kind: Uint8Array;
  readonly strength: Float32Array;
  /**
   * When the cell's kind was decided: the time of the latest approval or negative row, whichever
   * the kind is; for a cell only seen, of its latest row (−Infinity for inferred exposure). A view
   * after a vote does not move the vote.
   */
  readonly decidedMs: Float64Array;
  /** CSR by user over cell indices: the cells of user u are `userCells[userOffsets[u] … userOffsets[u+1]-1]`. */
  readonly userOffsets: Uint32Array;
  readonly userCells: Uint32Array;
}

/** (user, post) pairs known to be exposed without a row of their own: e.g. followers of the author active in the window. */
export interface ExposurePairs {
  readonly user: Uint32Array;
  readonly post: Uint32Array;
  readonly count: number;
}

interface AggregateOptions {
  weights?: Partial<ApprovalWeights>;
  /** Unioned with the table as exposure-only cells (duplicates of observed cells are absorbed). */
  exposurePairs?: ExposurePairs;
}

/**
 * Collapses rows to cells in O(rows + users + posts): two stable counting sorts (by user, then
 * by post) leave the rows grouped by post with users ascending, so duplicates are adjacent.
 * @NOTE when a user both approved and asked for less, the later signal wins (people change their
 * minds, like a Polis vote that is changed); on equal times the negative wins. Several approvals
 * keep the strongest (a like plus a repost is a repost, not 2.2 likes): one person, one voice.
 */
export function aggregateCells(table: InteractionTable, options: AggregateOptions = {}): RatingCells {
  validateTable(table);
  const { userCount, postCount, rowCount } = table;
  const extra = options.exposurePairs;
  const extraCount = extra?.count ?? 0;
  if (extra) {
    if (extra.user.length < extraCount || extra.post.length < extraCount) {
      throw new BridgingInputError('exposurePairs columns are shorter than count');
    }
    for (let i = 0; i < extraCount; i++) {
      if (extra.user[i]! >= userCount || extra.post[i]! >= postCount) {
        throw new BridgingInputError(`exposurePairs row ${i} is out of range`);
      }
    }
  }
  const n = rowCount + extraCount;
  const userOf = (i: number): number => (i < rowCount ? table.user[i]! : extra!.user[i - rowCount]!);
  const postOf = (i: number): number => (i < rowCount ? table.post[i]! : extra!.post[i - rowCount]!);

  const byUser = new Uint32Array(n);
  {
    const start = new Uint32Array(userCount + 1);
    for (let i = 0; i < n; i++) start[userOf(i) + 1]!++;
    for (let u = 0; u < userCount; u++) start[u + 1]! += start[u]!;
    for (let i = 0; i < n; i++) byUser[start[userOf(i)]!++] = i;
  }
  const order = new Uint32Array(n);
  {
    const start = new Uint32Array(postCount + 1);
    for (let i = 0; i < n; i++) start[postOf(i) + 1]!++;
    for (let p = 0; p < postCount; p++) start[p + 1]! += start[p]!;
    for (let k = 0; k < n; k++) {
      const i = byUser[k]!;
      order[start[postOf(i)]!++] = i;
    }
  }

  const weightOf = approvalWeightTable(options.weights);
  const cellUser = new Uint32Array(n);
  const cellPost = new Uint32Array(n);
  const kind = new Uint8Array(n);
  const strength = new Float32Array(n);
  const decidedMs = new Float64Array(n);
  let cells = 0;
  let k = 0;
  while (k < n) {
    const first = order[k]!;
    const u = userOf(first);
    const p = postOf(first);
    let approval = 0;
    let approvalMs = -Infinity;
    let negative = 0;
    let negativeMs = -Infinity;
    let observed = false;
    let latest = -Infinity;
    for (; k < n; k++) {
      const i = order[k]!;
      if (userOf(i) !== u || postOf(i) !== p) break;
      if (i >= rowCount) continue;
      observed = true;
      const t = table.timeMs[i]!;
      if (t > latest) latest = t;
      const w = weightOf[table.signal[i]!]!;
      if (w > 0) {
        if (w > approval) approval = w;
        if (t > approvalMs) approvalMs = t;
      } else if (w < 0) {
        if (w < negative) negative = w;
        if (t > negativeMs) negativeMs = t;
      }
    }
    cellUser[cells] = u;
    cellPost[cells] = p;
    if (negative < 0 && (approval === 0 || negativeMs >= approvalMs)) {
      kind[cells] = CellKind.Negative;
      strength[cells] = negative;
      decidedMs[cells] = negativeMs;
    } else if (approval > 0) {
      kind[cells] = CellKind.Approval;
      strength[cells] = approval;
      decidedMs[cells] = approvalMs;
    } else {
      kind[cells] = observed ? CellKind.Seen : CellKind.Exposed;
      decidedMs[cells] = latest;
    }
    cells++;
  }

  return indexCells(userCount, postCount, {
    cellUser: cellUser.slice(0, cells),
    cellPost: cellPost.slice(0, cells),
    kind: kind.slice(0, cells),
    strength: strength.slice(0, cells),
    decidedMs: decidedMs.slice(0, cells),
  });
}

/** The columns of cells, one entry per cell, sorted by post and then by user, each (user, post) once. */
type CellColumns = Pick<RatingCells, 'cellUser' | 'cellPost' | 'kind' | 'strength' | 'decidedMs'>;

/** Adds the CSR offsets of both orders to cells sorted by post (then user). */
export function indexCells(userCount: number, postCount: number, columns: CellColumns): RatingCells {
  const { cellUser, cellPost } = columns;
  const cells = cellUser.length;
  for (let c = 0; c < cells; c++) {
    if (cellUser[c]! >= userCount || cellPost[c]! >= postCount) throw new BridgingInputError(`cell ${c} is out of range`);
    if (c > 0 && (cellPost[c]! < cellPost[c - 1]! || (cellPost[c] === cellPost[c - 1] && cellUser[c]! <= cellUser[c - 1]!))) {
      throw new BridgingInputError(`cell ${c} is out of order or repeats a (user, post) pair`);
    }
  }
  const postOffsets = new Uint32Array(postCount + 1);
  for (let c = 0; c < cells; c++) postOffsets[cellPost[c]! + 1]!++;
  for (let p = 0; p < postCount; p++) postOffsets[p + 1]! += postOffsets[p]!;

  const userOffsets = new Uint32Array(userCount + 1);
  for (let c = 0; c < cells; c++) userOffsets[cellUser[c]! + 1]!++;
  for (let u = 0; u < userCount; u++) userOffsets[u + 1]! += userOffsets[u]!;
  const userCells = new Uint32Array(cells);
  {
    const next = userOffsets.slice(0, userCount);
    for (let c = 0; c < cells; c++) userCells[next[cellUser[c]!]!++] = c;
  }

  return { userCount, postCount, cellCount: cells, postOffsets, ...columns, userOffsets, userCells };
}
