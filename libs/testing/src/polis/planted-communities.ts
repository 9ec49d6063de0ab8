import { membershipFromLists, seededRandom, Signal, type GroupMembership, type InteractionTable } from '#lib/bridging';

/** What kind of post was planted, and hence how each side approves it. */
export const PlantedPostKind = {
  /** Approved by its own side, rarely by the other. */
  Partisan: 0,
  /** Approved by both sides: what a bridging ranker must surface. */
  Bridging: 1,
  /** Among the most popular posts, approved massively by one side only: what it must not surface. */
  ViralOneSided: 2,
  /** Mildly approved by everyone. */
  Neutral: 3,
} as const;

export type PlantedPostKind = (typeof PlantedPostKind)[keyof typeof PlantedPostKind];

export interface PlantedCommunitiesOptions {
  seed?: number;
  users?: number;
  posts?: number;
  /** Target row count (impressions as Seen rows plus approval rows). */
  interactions?: number;
  /** Communities; the first half lean to side −1, the rest to +1. Default 4. */
  communities?: number;
  bridgingPosts?: number;
  viralPosts?: number;
  /** Probability that a user also belongs to a second community, one with the same lean. Default 0.2. */
  overlap?: number;
  /** Probability that a user's side agrees with its community's lean. Default 0.9. */
  lean?: number;
  /** Probability that an impression comes from the user's own community's posts. Default 0.6. */
  homophily?: number;
  /** Probability that a user who saw without approving asks for less of a post from the other side. Default 0.05. */
  requestLessRate?: number;
  startMs?: number;
  spanMs?: number;
}

export interface PlantedCommunities {
  readonly table: InteractionTable;
  readonly membership: GroupMembership;
  /** −1 or +1 per user: the planted opinion axis. */
  readonly userSide: Int8Array;
  readonly postKind: Uint8Array;
  readonly postSide: Int8Array;
  readonly postCreatedMs: Float64Array;
  readonly bridgingPosts: Uint32Array;
  readonly viralPosts: Uint32Array;
}

/** Approval probability by post kind, for the post's own side and for the other side. */
const APPROVAL: Record<PlantedPostKind, { own: number; other: number }> = {
  [PlantedPostKind.Partisan]: { own: 0.45, other: 0.05 },
  [PlantedPostKind.Bridging]: { own: 0.5, other: 0.5 },
  [PlantedPostKind.ViralOneSided]: { own: 0.8, other: 0.03 },
  [PlantedPostKind.Neutral]: { own: 0.15, other: 0.15 },
};

/**
 * Synthetic interactions with planted communities, a planted opinion axis, planted bridging posts
 * and one-sided viral posts. Popularity is Zipf-like; viral posts take the top ranks and bridging
 * posts sit among the next ~1%, so both have enough exposure to be judged. Deterministic for a seed.
 */
export function plantedCommunities(options: PlantedCommunitiesOptions = {}): PlantedCommunities {
  const seed = options.seed ?? 7;
  const U = options.users ?? 10_000;
  const P = options.posts ?? 10_000;
  const target = options.interactions ?? 100_000;
  const G = options.communities ?? 4;
  const nBridging = options.bridgingPosts ?? 20;
  const nViral = options.viralPosts ?? 20;
  const overlap = options.overlap ?? 0.2;
  const lean = options.lean ?? 0.9;
  const homophily = options.homophily ?? 0.6;
  const requestLessRate = options.requestLessRate ?? 0.05;
  const startMs = options.startMs ?? Date.UTC(2026, 0, 1);
  const spanMs = options.spanMs ?? 86_400_000;
  const rng = seededRandom(seed);

  const leanOf = (g: number): number => (g < G / 2 ? -1 : 1);
  const lists: number[][] = [];
  const userSide = new Int8Array(U);
  const primary = new Uint32Array(U);
  for (let u = 0; u < U; u++) {
    const g = rng.int(G);
    primary[u] = g;
    const list = [g];
    if (rng.next() < overlap) {
      const h = rng.int(G);
      if (h !== g && leanOf(h) === leanOf(g)) list.push(h);
    }
    lists.push(list);
    userSide[u] = rng.next() < lean ? leanOf(g) : -leanOf(g);
  }
  const membership = membershipFromLists(lists, G, Array.from({ length: G }, (_, g) => `community-${g}`));

  // Popularity ranks: viral posts first, bridging posts spread over the next ~1% of ranks.
  const order = shuffle(Uint32Array.from({ length: P }, (_, i) => i), rng);
  const postKind = new Uint8Array(P);
  const rank = new Uint32Array(P);
  const bridgingPosts = order.slice(0, nBridging);
  const viralPosts = order.slice(nBridging, nBridging + nViral);
  const rest = shuffle(order.slice(nBridging + nViral), rng);
  viralPosts.forEach((p, i) => {
    postKind[p] = PlantedPostKind.ViralOneSided;
    rank[p] = i;
  });
  const band = Math.max(nBridging, Math.ceil(P / 100));
  const bridgingRanks = shuffle(Uint32Array.from({ length: band }, (_, i) => nViral + i), rng).slice(0, nBridging).sort();
  bridgingPosts.forEach((p, i) => {
    postKind[p] = PlantedPostKind.Bridging;
    rank[p] = bridgingRanks[i]!;
  });
  const taken = new Set(bridgingRanks);
  let r = nViral;
  for (const p of rest) {
    while (taken.has(r)) r++;
    rank[p] = r++;
    postKind[p] = rng.next() < 0.7 ? PlantedPostKind.Partisan : PlantedPostKind.Neutral;
  }

  const postCommunity = new Uint32Array(P);
  const postSide = new Int8Array(P);
  const postCreatedMs = new Float64Array(P);
  for (let p = 0; p < P; p++) {
    const g = rng.int(G);
    postCommunity[p] = g;
    postSide[p] = rng.next() < lean ? leanOf(g) : -leanOf(g);
    postCreatedMs[p] = startMs + rng.next() * spanMs * 0.5;
  }

  // Cumulative popularity, globally and per author community, for inverse-CDF sampling.
  const weight = (p: number): number => 1 / (rank[p]! + 10);
  const globalCdf = cumulative(Uint32Array.from({ length: P }, (_, i) => i), weight);
  const pools = Array.from({ length: G }, () => [] as number[]);
  for (let p = 0; p < P; p++) pools[postCommunity[p]!]!.push(p);
  const poolCdfs = pools.map((pool) => cumulative(Uint32Array.from(pool), weight));

  const user = new Uint32Array(target);
  const post = new Uint32Array(target);
  const signal = new Uint8Array(target);
  const timeMs = new Float64Array(target);
  let n = 0;
  const push = (u: number, p: number, s: Signal, t: number): void => {
    if (n >= target) return;
    user[n] = u;
    post[n] = p;
    signal[n] = s;
    timeMs[n++] = t;
  };
  while (n < target) {
    const u = rng.int(U);
    const cdf = rng.next() < homophily ? poolCdfs[primary[u]!]! : globalCdf;
    if (cdf.items.length === 0) continue;
    const p = sample(cdf, rng.next());
    const t = postCreatedMs[p]! + rng.next() * (startMs + spanMs - postCreatedMs[p]!);
    push(u, p, Signal.Seen, t);
    const kind = postKind[p] as PlantedPostKind;
    const own = userSide[u] === postSide[p];
    const approval = own ? APPROVAL[kind].own : APPROVAL[kind].other;
    if (rng.next() < approval) push(u, p, rng.next() < 0.15 ? Signal.Repost : Signal.Like, t + 1000);
    else if (!own && kind !== PlantedPostKind.Neutral && kind !== PlantedPostKind.Bridging && rng.next() < requestLessRate) {
      push(u, p, Signal.RequestLess, t + 1000);
    }
  }
  return {
    table: { user, post, signal, timeMs, rowCount: n, userCount: U, postCount: P },
    membership,
    userSide,
    postKind,
    postSide,
    postCreatedMs,
    bridgingPosts: Uint32Array.from(bridgingPosts).sort(),
    viralPosts: Uint32Array.from(viralPosts).sort(),
  };
}

function shuffle(a: Uint32Array, rng: { int(n: number): number }): Uint32Array {
  for (let i = a.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const t = a[i]!;
    a[i] = a[j]!;
    a[j] = t;
  }
  return a;
}

interface Cdf {
  items: Uint32Array;
  cum: Float64Array;
}

function cumulative(items: Uint32Array, weight: (i: number) => number): Cdf {
  const cum = new Float64Array(items.length);
  let s = 0;
  for (let i = 0; i < items.length; i++) cum[i] = s += weight(items[i]!);
  return { items, cum };
}

function sample(cdf: Cdf, x: number): number {
  const target = x * cdf.cum[cdf.cum.length - 1]!;
  let lo = 0;
  let hi = cdf.cum.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cdf.cum[mid]! < target) lo = mid + 1;
    else hi = mid;
  }
  return cdf.items[lo]!;
}
