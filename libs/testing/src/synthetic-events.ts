import { Nsid, atUri, type JetstreamEvent } from '#lib/domain';
import type { RecordKind } from '#lib/contracts';
import { RawLine, writeJsonl } from './jsonl.js';

// @NOTE Globals are aliased once: inside Jest's VM context every global lookup (Math.floor…) is ~100×
// slower than a module binding, which made generation 5× slower under test than in production.
const { floor, max, min, imul, round } = Math;
const { fromCharCode } = String;
const utf8Length: (text: string) => number = Buffer.byteLength.bind(Buffer);

/** Deterministic 32-bit PRNG (mulberry32): same seed, same stream, on every machine. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = imul(t ^ (t >>> 15), t | 1);
    t ^= t + imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

type Rng = () => number;

const base32 = 'abcdefghijklmnopqrstuvwxyz234567';
const base32Sortable = '234567abcdefghijklmnopqrstuvwxyz';
const base32Codes = Uint8Array.from(base32, (c) => c.charCodeAt(0));
const base32SortableCodes = Uint8Array.from(base32Sortable, (c) => c.charCodeAt(0));

// @NOTE Identifiers are built from char codes in one go: appending character by character leaves V8
// cons-string chains (~32 bytes per character) that made 200k events cost 2 KB each on the heap.
function fromCodes(codes: Uint8Array): string {
  return fromCharCode(...codes);
}

/** A `did:plc` identifier: 24 characters of lower-case base32, like the PLC directory issues. */
export function generateDidPlc(rng: Rng): string {
  const codes = new Uint8Array(24);
  for (let i = 0; i < 24; i++) codes[i] = base32Codes[floor(rng() * 32)]!;
  return `did:plc:${fromCodes(codes)}`;
}

const tidCodes = new Uint8Array(13);

/**
 * A TID (timestamp identifier, the record key of most records): 13 base32-sortable characters holding
 * 53 bits of microseconds and a 10-bit clock id, so TIDs sort by time.
 */
export function tid(timeUs: number, clockId: number): string {
  const t = max(0, floor(timeUs));
  // 55 bits of timestamp field = 5 high characters (25 bits) + 6 low characters (30 bits).
  const low = t % 1_073_741_824;
  const high = floor(t / 1_073_741_824);
  for (let i = 0; i < 5; i++) tidCodes[i] = base32SortableCodes[(high >>> (5 * (4 - i))) & 31]!;
  for (let i = 0; i < 6; i++) tidCodes[5 + i] = base32SortableCodes[(low >>> (5 * (5 - i))) & 31]!;
  tidCodes[11] = base32SortableCodes[(clockId >> 5) & 31]!;
  tidCodes[12] = base32SortableCodes[clockId & 31]!;
  return fromCodes(tidCodes);
}

const cidPrefix = { dagCbor: [0x01, 0x71, 0x12, 0x20], raw: [0x01, 0x55, 0x12, 0x20] } as const;
const cidBytes = new Uint8Array(36);
const cidCodes = new Uint8Array(59);

/**
 * A CIDv1 (sha2-256) string with a random digest: `bafyrei…` for records (dag-cbor), `bafkrei…` for blobs
 * (raw), 59 characters, encoded exactly as real CIDs are (multibase `b` + RFC 4648 base32).
 */
export function generateCid(rng: Rng, codec: 'dagCbor' | 'raw' = 'dagCbor'): string {
  cidBytes.set(cidPrefix[codec]);
  for (let i = 4; i < 36; i += 4) {
    const word = floor(rng() * 4_294_967_296);
    cidBytes[i] = word >>> 24;
    cidBytes[i + 1] = (word >>> 16) & 255;
    cidBytes[i + 2] = (word >>> 8) & 255;
    cidBytes[i + 3] = word & 255;
  }
  cidCodes[0] = 98; // multibase prefix 'b'
  let n = 1;
  let buffer = 0;
  let bits = 0;
  for (const byte of cidBytes) {
    buffer = ((buffer << 8) | byte) & 0xffff;
    bits += 8;
    while (bits >= 5) {
      cidCodes[n++] = base32Codes[(buffer >>> (bits - 5)) & 31]!;
      bits -= 5;
    }
  }
  if (bits > 0) cidCodes[n] = base32Codes[(buffer << (5 - bits)) & 31]!;
  return fromCodes(cidCodes);
}

/** The kinds of items the generator emits; `other` is records of collections the pipeline ignores. */
type SyntheticKind =
  | 'like'
  | 'post'
  | 'reply'
  | 'quote'
  | 'repost'
  | 'follow'
  | 'listitem'
  | 'block'
  | 'delete'
  | 'identity'
  | 'account'
  | 'other';

/**
 * Default shares of all generated items. The listed kinds add up to 73%; the other 27% are records of
 * collections ingest does not subscribe to (profiles, threadgates, postgates, lists, starter packs, list
 * blocks, chat declarations), as on the real network, where they exercise the collection filter and
 * the `skip` path.
 */
const defaultSyntheticMix: Readonly<Record<SyntheticKind, number>> = {
  like: 0.35,
  post: 0.1,
  reply: 0.06,
  quote: 0.02,
  repost: 0.08,
  follow: 0.06,
  listitem: 0.01,
  block: 0.01,
  delete: 0.03,
  identity: 0.005,
  account: 0.005,
  other: 0.27,
};

interface SyntheticCommunity {
  name: string;
  /** How many users belong to it (drawn at random; communities may overlap). */
  members: number;
  /** Hashtags its members use (default: the name, slugged). */
  tags?: string[];
  /** Post languages of its members (default `['en']`). */
  langs?: string[];
  /** Probability that a member's interaction targets a post by the same community (default 0.8). */
  homophily?: number;
}

interface SyntheticOptions {
  seed: number;
  users: number;
  /** Total items, malformed ones included. */
  events: number;
  /** `time_us` of the first event (unix microseconds). */
  startUs: number;
  /** Span of `time_us` (default 3600 s). */
  durationSec?: number;
  communities?: SyntheticCommunity[];
  /** Every n-th item is a malformed frame (cycling through `malformedVariants`). */
  malformedEvery?: number;
  mix?: Partial<Record<SyntheticKind, number>>;
  /** Zipf exponent of user activity and of post popularity (default 1.1). */
  zipfExponent?: number;
  /** Share of original posts that every community engages with (ground truth for bridging; default 0.02). */
  bridgingShare?: number;
}

/**
 * Malformed frames, in the order they are cycled. `not-json` is a truncated frame; the others are valid
 * JSON that `mapJetstreamEvent` reports as malformed. All are `RawLine`s: the replay server sends them
 * verbatim, ignoring collection filters.
 */
const malformedVariants = ['not-json', 'text-not-string', 'invalid-subject-uri', 'missing-time-us'] as const;
type MalformedVariant = (typeof malformedVariants)[number];

interface SyntheticCounts {
  total: number;
  post: number;
  reply: number;
  quote: number;
  like: number;
  repost: number;
  follow: number;
  block: number;
  listitem: number;
  identity: number;
  account: number;
  other: number;
  deletes: Record<RecordKind, number>;
  deleteTotal: number;
  /** Posts, replies and quotes still live when their author's account was deleted: the store erases them. */
  erasedPosts: number;
  malformed: number;
  malformedByVariant: Record<MalformedVariant, number>;
  /** Items `mapJetstreamEvent` maps to a `PipelineEventV1` (all but `other` and malformed; starter packs are mappable). */
  mappable: number;
}

interface SyntheticCommunityTruth {
  name: string;
  tags: string[];
  members: string[];
  /** The curator's `app.bsky.graph.list` whose list items add members of this community. */
  listUri: string;
  curator: string;
}

interface SyntheticEvents {
  /** In `time_us` order, strictly increasing (malformed items hold their slot's time). */
  events: (JetstreamEvent | RawLine)[];
  counts: SyntheticCounts;
  dids: string[];
  /** Handle of each DID at the end of the stream (identity events change some). */
  handles: Map<string, string>;
  communities: SyntheticCommunityTruth[];
  /** Post AT-URIs that every community was steered to engage with. */
  bridgingPosts: string[];
  deletedUris: string[];
  /** Accounts inactive at the end of the stream, with their status. */
  inactive: Map<string, string>;
  startUs: number;
  endUs: number;
  writeJsonl(path: string): Promise<{ lines: number; bytes: number }>;
}

class Ring {
  private readonly items: Int32Array;
  private next = 0;
  size = 0;

  constructor(capacity: number) {
    this.items = new Int32Array(capacity);
  }

  push(value: number): void {
    this.items[this.next] = value;
    this.next = (this.next + 1) % this.items.length;
    if (this.size < this.items.length) this.size += 1;
  }

  pick(rng: Rng): number {
    return this.size === 0 ? -1 : this.items[floor(rng() * this.size)]!;
  }
}

/** Samples ranks 0..n-1 with P(r) ∝ 1/(r+1)^s. */
class ZipfSampler {
  private readonly cdf: Float64Array;

  constructor(n: number, s: number) {
    this.cdf = new Float64Array(n);
    let sum = 0;
    for (let r = 0; r < n; r++) {
      sum += 1 / (r + 1) ** s;
      this.cdf[r] = sum;
    }
    for (let r = 0; r < n; r++) this.cdf[r]! /= sum;
  }

  sample(rng: Rng): number {
    const u = rng();
    let lo = 0;
    let hi = this.cdf.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.cdf[mid]! < u) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

interface User {
  did: string;
  handle: string;
  clockId: number;
  communities: number[];
  langs: string[];
  active: boolean;
}

interface PostRef {
  uri: string;
  cid: string;
  author: number;
  root: number;
  deleted: boolean;
  bridging: boolean;
}

interface Deletable {
  user: number;
  kind: RecordKind;
  rkey: string;
  post: number;
  deleted: boolean;
}

interface CommunityState {
  truth: SyntheticCommunityTruth;
  memberIdx: number[];
  tags: string[];
  langs: string[];
  homophily: number;
  recent: Ring;
  engaged: Ring;
  words: string[];
}

const commonWords =
  'the a of and to in is it that for on with as this was at be by not are from or have an but what all were when we there can just more one so about out up do if new people today time think really good way read thread here why how still'.split(
    ' ',
  );
const topicWords =
  'city transit bike housing climate energy solar garden soil birds science data open source rust python privacy moderation community library music jazz vinyl cooking bread coffee football chess art museum poetry history school teacher nurse health river forest ocean rain café Städte naïve résumé über'.split(
    ' ',
  );
const emoji = ['🌱', '🚲', '✨', '📚', '🎶', '☕', '🌊', '🧵'];
const linkHosts = ['example.org', 'news.example.com', 'blog.example.net', 'papers.example.edu'];
const otherCollections = [
  'app.bsky.actor.profile',
  'app.bsky.feed.threadgate',
  'app.bsky.feed.postgate',
  'app.bsky.graph.list',
  'app.bsky.graph.starterpack',
  'app.bsky.graph.listblock',
  'chat.bsky.actor.declaration',
];

function slug(name: string): string {
  return name.toLowerCase().replace(/[^\p{L}\p{N}]+/gu, '') || 'community';
}

function pickOne<T>(rng: Rng, items: readonly T[]): T {
  return items[floor(rng() * items.length)]!;
}

/**
 * Generates a realistic, deterministic Jetstream stream: real record shapes (facets, embeds, replies,
 * quotes, strong refs with CIDs, TID rkeys), Zipf-distributed user activity and post popularity,
 * communities with homophily, deletes of earlier records, identity and account events.
 */
export function generateJetstreamEvents(options: SyntheticOptions): SyntheticEvents {
  return new SyntheticStream(options).generate();
}

/** Picks a kind of event by the mix's shares. */
function kindPicker(rng: Rng, mix: Readonly<Record<SyntheticKind, number>>): () => SyntheticKind {
  const kinds = Object.keys(mix) as SyntheticKind[];
  const mixSum = kinds.reduce((sum, kind) => sum + max(0, mix[kind]), 0);
  const mixCdf: number[] = [];
  let acc = 0;
  for (const kind of kinds) {
    acc += max(0, mix[kind]) / mixSum;
    mixCdf.push(acc);
  }
  return () => {
    const u = rng();
    for (let i = 0; i < kinds.length; i++) if (u < mixCdf[i]!) return kinds[i]!;
    return kinds.at(-1)!;
  };
}

function createUsers(rng: Rng, userCount: number): User[] {
  const users: User[] = [];
  const seenDids = new Set<string>();
  for (let i = 0; i < userCount; i++) {
    let did = generateDidPlc(rng);
    while (seenDids.has(did)) did = generateDidPlc(rng);
    seenDids.add(did);
    users.push({ did, handle: `user${i}.bsky.social`, clockId: floor(rng() * 1024), communities: [], langs: ['en'], active: true });
  }
  return users;
}

/** Activity rank → user, shuffled so that community membership and activity are independent. */
function shuffledRanks(rng: Rng, userCount: number): number[] {
  const rankToUser = Array.from({ length: userCount }, (_, i) => i);
  for (let i = userCount - 1; i > 0; i--) {
    const j = floor(rng() * (i + 1));
    [rankToUser[i], rankToUser[j]] = [rankToUser[j]!, rankToUser[i]!];
  }
  return rankToUser;
}

/** Draws each community's members (and gives them its languages) and its curated list. */
function plantCommunities(rng: Rng, options: SyntheticOptions, users: User[]): CommunityState[] {
  const userCount = users.length;
  return (options.communities ?? []).map((spec, index) => {
    const size = min(userCount, max(1, floor(spec.members)));
    const pool = Array.from({ length: userCount }, (_, i) => i);
    for (let i = 0; i < size; i++) {
      const j = i + floor(rng() * (userCount - i));
      [pool[i], pool[j]] = [pool[j]!, pool[i]!];
    }
    const memberIdx = pool.slice(0, size);
    const langs = spec.langs?.length ? spec.langs : ['en'];
    for (const m of memberIdx) {
      users[m]!.communities.push(index);
      users[m]!.langs = langs;
    }
    const curator = memberIdx[0]!;
    const tags = spec.tags?.length ? spec.tags.map((tag) => tag.replace(/^#/, '')) : [slug(spec.name)];
    const words = Array.from({ length: 8 }, () => pickOne(rng, topicWords));
    return {
      truth: {
        name: spec.name,
        tags,
        members: memberIdx.map((m) => users[m]!.did),
        listUri: atUri(users[curator]!.did, Nsid.list, tid(options.startUs - 86_400_000_000 - index, users[curator]!.clockId)),
        curator: users[curator]!.did,
      },
      memberIdx,
      tags,
      langs,
      homophily: spec.homophily ?? 0.8,
      recent: new Ring(1000),
      engaged: new Ring(5000),
      words,
    };
  });
}

const emptyCounts = (): SyntheticCounts => ({
  total: 0,
  post: 0,
  reply: 0,
  quote: 0,
  like: 0,
  repost: 0,
  follow: 0,
  block: 0,
  listitem: 0,
  identity: 0,
  account: 0,
  other: 0,
  erasedPosts: 0,
  deletes: { post: 0, like: 0, repost: 0, follow: 0, block: 0, listitem: 0, starterpack: 0, pledge: 0, visibility: 0, note: 0, rating: 0, noterequest: 0 },
  deleteTotal: 0,
  malformed: 0,
  malformedByVariant: { 'not-json': 0, 'text-not-string': 0, 'invalid-subject-uri': 0, 'missing-time-us': 0 },
  mappable: 0,
});

/**
 * The state of one generated stream: its users and communities, the posts and records events can
 * refer to, and what was counted. `generate` emits the events in time order, one `step` each.
 */
class SyntheticStream {
  private readonly rng: Rng;
  private readonly pickKind: () => SyntheticKind;
  private readonly userCount: number;
  private readonly users: User[];
  private readonly rankToUser: number[];
  private readonly activity: ZipfSampler;
  private readonly communities: CommunityState[];
  private readonly bridgingShare: number;
  private readonly posts: PostRef[] = [];
  /** Live posts (replies and quotes included) per user index. */
  private readonly livePostsOf = new Map<number, number>();
  private readonly globalRecent = new Ring(3000);
  private readonly globalEngaged = new Ring(20_000);
  private readonly deletables: Deletable[] = [];
  private readonly deletableRing = new Ring(20_000);
  private readonly bridgingPosts: string[] = [];
  private readonly deletedUris: string[] = [];
  private readonly inactive = new Map<string, string>();
  private readonly events: (JetstreamEvent | RawLine)[] = [];
  private readonly counts = emptyCounts();
  private firehoseSeq = 3_400_000_000;
  private takedownDone = false;
  private accountEvents = 0;
  // toISOString is costly at this volume; events are time-ordered, so the seconds part is cached.
  private isoSecond = Number.NaN;
  private isoPrefix = '';

  constructor(private readonly options: SyntheticOptions) {
    this.rng = mulberry32(options.seed);
    this.bridgingShare = options.bridgingShare ?? 0.02;
    this.pickKind = kindPicker(this.rng, { ...defaultSyntheticMix, ...options.mix });
    this.userCount = max(2, floor(options.users));
    this.users = createUsers(this.rng, this.userCount);
    this.rankToUser = shuffledRanks(this.rng, this.userCount);
    this.activity = new ZipfSampler(this.userCount, options.zipfExponent ?? 1.1);
    this.communities = plantCommunities(this.rng, options, this.users);
  }

  generate(): SyntheticEvents {
    const { options } = this;
    const durationUs = max(1, round((options.durationSec ?? 3600) * 1_000_000));
    const total = max(0, floor(options.events));
    const malformedEvery = options.malformedEvery && options.malformedEvery > 0 ? floor(options.malformedEvery) : 0;
    const step = durationUs / max(1, total);
    let lastUs = options.startUs - 1;
    for (let i = 0; i < total; i++) {
      const timeUs = max(lastUs + 1, options.startUs + floor(i * step + this.rng() * step * 0.9));
      lastUs = timeUs;
      this.counts.total += 1;
      if (malformedEvery > 0 && i % malformedEvery === malformedEvery - 1) {
        this.events.push(this.malformedItem(timeUs, floor(i / malformedEvery)));
      } else {
        this.step(timeUs);
      }
    }
    const { events, counts, users, bridgingPosts, deletedUris, inactive } = this;
    return {
      events,
      counts,
      dids: users.map((u) => u.did),
      handles: new Map(users.map((u) => [u.did, u.handle])),
      communities: this.communities.map((c) => c.truth),
      bridgingPosts,
      deletedUris,
      inactive,
      startUs: options.startUs,
      endUs: lastUs,
      writeJsonl: (path: string) => writeJsonl(path, events),
    };
  }

  /** One event by a sampled actor, of a kind drawn from the mix (a post when its target is missing). */
  private step(timeUs: number): void {
    const actor = this.sampleActor();
    let kind = this.pickKind();
    let target = -1;
    if (kind === 'like' || kind === 'repost' || kind === 'reply' || kind === 'quote') {
      target = this.pickPost(actor);
      if (target < 0) kind = 'post';
    }
    if (kind === 'delete') {
      if (this.deleteEarlierRecord(timeUs)) return;
      kind = 'post';
    }
    switch (kind) {
      case 'post':
      case 'reply':
      case 'quote':
        this.events.push(this.createPost(actor, timeUs, kind, target));
        this.counts[kind] += 1;
        this.counts.mappable += 1;
        break;
      case 'like':
      case 'repost':
        this.subjectRecord(actor, timeUs, kind, target);
        break;
      case 'follow':
      case 'block':
        this.graphRecord(actor, timeUs, kind);
        break;
      case 'listitem':
        this.listItem(actor, timeUs);
        break;
      case 'identity':
        this.identityChange(actor, timeUs);
        break;
      case 'account':
        this.accountChange(actor, timeUs);
        break;
      case 'other': {
        const event = this.otherEvent(actor, timeUs);
        this.events.push(event);
        // Starter packs are ingested (a community source); the rest of these collections are not.
        if (event.kind === 'commit' && event.commit.collection === Nsid.starterpack) this.counts.mappable += 1;
        else this.counts.other += 1;
        break;
      }
    }
  }

  /** Deletes a record made earlier by an active account; false when none was found in a few tries. */
  private deleteEarlierRecord(timeUs: number): boolean {
    let victim: Deletable | null = null;
    for (let tries = 0; tries < 6 && victim === null; tries++) {
      const idx = this.deletableRing.pick(this.rng);
      const candidate = idx >= 0 ? this.deletables[idx]! : null;
      if (candidate && !candidate.deleted && this.users[candidate.user]!.active) victim = candidate;
    }
    if (victim === null) return false;
    victim.deleted = true;
    if (victim.post >= 0) {
      this.posts[victim.post]!.deleted = true;
      this.livePostsOf.set(victim.user, this.livePostsOf.get(victim.user)! - 1);
      this.deletedUris.push(this.posts[victim.post]!.uri);
    } else {
      this.deletedUris.push(atUri(this.users[victim.user]!.did, Nsid[victim.kind], victim.rkey));
    }
    this.counts.deletes[victim.kind] += 1;
    this.counts.deleteTotal += 1;
    this.counts.mappable += 1;
    this.events.push(this.commitEvent(victim.user, timeUs, 'delete', Nsid[victim.kind], victim.rkey));
    return true;
  }

  private subjectRecord(actor: number, timeUs: number, kind: 'like' | 'repost', target: number): void {
    const rkey = tid(timeUs, this.users[actor]!.clockId);
    const post = this.posts[target]!;
    const record: Record<string, unknown> = { $type: Nsid[kind], subject: { uri: post.uri, cid: post.cid }, createdAt: this.createdAtFor(timeUs) };
    this.events.push(this.commitEvent(actor, timeUs, 'create', Nsid[kind], rkey, record));
    this.engage(target);
    this.remember(actor, kind, rkey);
    this.counts[kind] += 1;
    this.counts.mappable += 1;
  }

  private graphRecord(actor: number, timeUs: number, kind: 'follow' | 'block'): void {
    // @NOTE Follows mostly stay inside a community; blocks mostly cross community lines.
    const subject = this.otherUser(actor, kind === 'follow' ? this.rng() < 0.7 : this.rng() < 0.2);
    const rkey = tid(timeUs, this.users[actor]!.clockId);
    this.events.push(
      this.commitEvent(actor, timeUs, 'create', Nsid[kind], rkey, { $type: Nsid[kind], subject: this.users[subject]!.did, createdAt: this.createdAtFor(timeUs) }),
    );
    this.remember(actor, kind, rkey);
    this.counts[kind] += 1;
    this.counts.mappable += 1;
  }

  /** Curators keep their community's list up to date; without communities, anyone curates a list. */
  private listItem(actor: number, timeUs: number): void {
    const { users } = this;
    const picked = this.communities.length > 0 ? pickOne(this.rng, this.communities) : null;
    const community = picked && users[picked.memberIdx[0]!]!.active ? picked : null;
    const curator = community ? community.memberIdx[0]! : actor;
    const member = community ? pickOne(this.rng, community.memberIdx) : this.otherUser(actor, false);
    const list = community ? community.truth.listUri : atUri(users[curator]!.did, Nsid.list, tid(this.options.startUs - 86_400_000_000, users[curator]!.clockId));
    const rkey = tid(timeUs, users[curator]!.clockId);
    this.events.push(
      this.commitEvent(curator, timeUs, 'create', Nsid.listitem, rkey, { $type: Nsid.listitem, subject: users[member]!.did, list, createdAt: this.createdAtFor(timeUs) }),
    );
    this.remember(curator, 'listitem', rkey);
    this.counts.listitem += 1;
    this.counts.mappable += 1;
  }

  private identityChange(actor: number, timeUs: number): void {
    const u = this.users[actor]!;
    u.handle = this.rng() < 0.5 ? `${u.handle.split('.')[0]}.example.com` : `${u.handle.split('.')[0]}${floor(this.rng() * 100)}.bsky.social`;
    this.firehoseSeq += 1;
    this.events.push({ did: u.did, time_us: timeUs, kind: 'identity', identity: { did: u.did, handle: u.handle, seq: this.firehoseSeq, time: this.isoMs(floor(timeUs / 1000)) } });
    this.counts.identity += 1;
    this.counts.mappable += 1;
  }

  /** One takedown early on; otherwise accounts deactivate (or are deleted) and some come back. */
  private accountChange(actor: number, timeUs: number): void {
    const u = this.users[actor]!;
    this.firehoseSeq += 1;
    this.accountEvents += 1;
    const seq = this.firehoseSeq;
    const time = this.isoMs(floor(timeUs / 1000));
    const reactivate = [...this.inactive.entries()].find(([, status]) => status === 'deactivated');
    let event: JetstreamEvent;
    if (!this.takedownDone && this.accountEvents >= 2) {
      this.takedownDone = true;
      u.active = false;
      this.inactive.set(u.did, 'takendown');
      event = { did: u.did, time_us: timeUs, kind: 'account', account: { active: false, did: u.did, seq, time, status: 'takendown' } };
    } else if (reactivate && this.rng() < 0.4) {
      const did = reactivate[0];
      this.inactive.delete(did);
      this.users.find((x) => x.did === did)!.active = true;
      event = { did, time_us: timeUs, kind: 'account', account: { active: true, did, seq, time } };
    } else {
      const status = this.rng() < 0.9 ? 'deactivated' : 'deleted';
      u.active = false;
      this.inactive.set(u.did, status);
      if (status === 'deleted') this.counts.erasedPosts += this.livePostsOf.get(actor) ?? 0;
      event = { did: u.did, time_us: timeUs, kind: 'account', account: { active: false, did: u.did, seq, time, status } };
    }
    this.events.push(event);
    this.counts.account += 1;
    this.counts.mappable += 1;
  }

  private blob(mimeType: string, maxSize: number): Record<string, unknown> {
    return { $type: 'blob', ref: { $link: generateCid(this.rng, 'raw') }, mimeType, size: 20_000 + floor(this.rng() * maxSize) };
  }

  private sampleActor(): number {
    for (let tries = 0; tries < 8; tries++) {
      const user = this.rankToUser[this.activity.sample(this.rng)]!;
      if (this.users[user]!.active) return user;
    }
    return this.rankToUser.find((u) => this.users[u]!.active) ?? 0;
  }

  private otherUser(actor: number, sameCommunity: boolean): number {
    const comms = this.users[actor]!.communities;
    for (let tries = 0; tries < 8; tries++) {
      const candidate =
        sameCommunity && comms.length > 0
          ? pickOne(this.rng, this.communities[pickOne(this.rng, comms)]!.memberIdx)
          : this.rankToUser[this.activity.sample(this.rng)]!;
      if (candidate !== actor) return candidate;
    }
    return (actor + 1) % this.userCount;
  }

  private pickPost(actor: number): number {
    const comms = this.users[actor]!.communities;
    let recent = this.globalRecent;
    let engaged = this.globalEngaged;
    if (comms.length > 0) {
      const community = this.communities[pickOne(this.rng, comms)]!;
      if (this.rng() < community.homophily) {
        recent = community.recent;
        engaged = community.engaged;
      }
    }
    for (let tries = 0; tries < 6; tries++) {
      // @NOTE Preferential attachment: re-engaging a post drawn from past engagements makes popularity
      // heavy-tailed (Zipf-like), while drawing from recent posts lets new posts get their first likes.
      const idx = engaged.size > 0 && this.rng() < 0.6 ? engaged.pick(this.rng) : recent.pick(this.rng);
      if (idx >= 0 && !this.posts[idx]!.deleted) return idx;
    }
    const idx = this.globalRecent.pick(this.rng);
    return idx >= 0 && !this.posts[idx]!.deleted ? idx : -1;
  }

  private engage(postIdx: number): void {
    const post = this.posts[postIdx]!;
    this.globalEngaged.push(postIdx);
    const targets = post.bridging ? this.communities : this.users[post.author]!.communities.map((c) => this.communities[c]!);
    for (const community of targets) community.engaged.push(postIdx);
  }

  private isoMs(ms: number): string {
    const second = floor(ms / 1000);
    if (second !== this.isoSecond) {
      this.isoSecond = second;
      this.isoPrefix = new Date(second * 1000).toISOString().slice(0, 20);
    }
    const millis = ms - second * 1000;
    return `${this.isoPrefix}${millis < 10 ? '00' : millis < 100 ? '0' : ''}${millis}Z`;
  }

  private createdAtFor(timeUs: number): string {
    const ms = floor(timeUs / 1000) - 30 - floor(this.rng() * 1500);
    const skew = this.rng();
    // @NOTE Client clocks are untrusted: a few records claim the future or the distant past.
    if (skew < 0.003) return this.isoMs(ms + floor(this.rng() * 600_000));
    if (skew < 0.005) return this.isoMs(ms - floor(this.rng() * 30 * 86_400_000));
    return this.isoMs(ms);
  }

  private commitEvent(
    user: number,
    timeUs: number,
    operation: 'create' | 'update' | 'delete',
    collection: string,
    rkey: string,
    record?: Record<string, unknown>,
  ): JetstreamEvent {
    const u = this.users[user]!;
    const commit: JetstreamEvent & { kind: 'commit' } = {
      did: u.did,
      time_us: timeUs,
      kind: 'commit',
      commit: { rev: tid(timeUs, u.clockId), operation, collection, rkey },
    };
    if (record) {
      commit.commit.record = record;
      commit.commit.cid = generateCid(this.rng);
    }
    return commit;
  }

  private remember(user: number, kind: RecordKind, rkey: string, post = -1): void {
    this.deletables.push({ user, kind, rkey, post, deleted: false });
    this.deletableRing.push(this.deletables.length - 1);
  }

  private mediaEmbed(): Record<string, unknown> {
    const r = this.rng();
    if (r < 0.7) {
      const n = 1 + floor(this.rng() * this.rng() * 4);
      return {
        $type: 'app.bsky.embed.images',
        images: Array.from({ length: n }, () => ({
          alt: this.rng() < 0.4 ? '' : `${pickOne(this.rng, topicWords)} ${pickOne(this.rng, commonWords)} ${pickOne(this.rng, topicWords)}`,
          image: this.blob('image/jpeg', 900_000),
          aspectRatio: { width: 2000, height: 1000 + floor(this.rng() * 1500) },
        })),
      };
    }
    if (r < 0.9) {
      return {
        $type: 'app.bsky.embed.external',
        external: {
          uri: `https://${pickOne(this.rng, linkHosts)}/${pickOne(this.rng, topicWords)}-${floor(this.rng() * 1e6)}`,
          title: `${pickOne(this.rng, topicWords)} and ${pickOne(this.rng, topicWords)}`,
          description: `${pickOne(this.rng, commonWords)} ${pickOne(this.rng, topicWords)} ${pickOne(this.rng, commonWords)}`,
          ...(this.rng() < 0.6 ? { thumb: this.blob('image/jpeg', 300_000) } : {}),
        },
      };
    }
    return {
      $type: 'app.bsky.embed.video',
      video: this.blob('video/mp4', 20_000_000),
      aspectRatio: { width: 1080, height: 1920 },
    };
  }

  private postBody(actor: number): { text: string; facets: Record<string, unknown>[]; langs: string[]; community: CommunityState | null } {
    const u = this.users[actor]!;
    const community = u.communities.length > 0 ? this.communities[pickOne(this.rng, u.communities)]! : null;
    const words: string[] = [];
    const n = 4 + floor(this.rng() * 18);
    for (let i = 0; i < n; i++) {
      const r = this.rng();
      words.push(community && r < 0.35 ? pickOne(this.rng, community.words) : r < 0.55 ? pickOne(this.rng, topicWords) : pickOne(this.rng, commonWords));
    }
    if (this.rng() < 0.15) words.push(pickOne(this.rng, emoji));
    let text = words.join(' ');
    const facets: Record<string, unknown>[] = [];
    const withFacets = this.rng() < 0.9;
    const append = (segment: string, feature: Record<string, unknown>): void => {
      const byteStart = utf8Length(text) + 1;
      text += ` ${segment}`;
      if (withFacets) facets.push({ index: { byteStart, byteEnd: byteStart + utf8Length(segment) }, features: [feature] });
    };
    if (this.rng() < 0.12) {
      const mentioned = this.users[this.otherUser(actor, true)]!;
      append(`@${mentioned.handle}`, { $type: 'app.bsky.richtext.facet#mention', did: mentioned.did });
    }
    if (this.rng() < 0.1) {
      const uri = `https://${pickOne(this.rng, linkHosts)}/${pickOne(this.rng, topicWords)}/${floor(this.rng() * 1e5)}`;
      append(uri, { $type: 'app.bsky.richtext.facet#link', uri });
    }
    const tagCount = community && this.rng() < 0.5 ? 1 + floor(this.rng() * 2) : this.rng() < 0.05 ? 1 : 0;
    for (let i = 0; i < tagCount; i++) {
      const tag = community ? pickOne(this.rng, community.tags) : pickOne(this.rng, topicWords);
      append(`#${tag}`, { $type: 'app.bsky.richtext.facet#tag', tag });
    }
    return { text, facets, langs: community?.langs ?? u.langs, community };
  }

  private createPost(actor: number, timeUs: number, kind: 'post' | 'reply' | 'quote', target: number): JetstreamEvent {
    const u = this.users[actor]!;
    const rkey = tid(timeUs, u.clockId);
    const body = this.postBody(actor);
    const record: Record<string, unknown> = { $type: Nsid.post, text: body.text, langs: body.langs };
    if (body.facets.length > 0) record.facets = body.facets;
    let root = -1;
    if (kind === 'reply') {
      const parent = this.posts[target]!;
      root = parent.root >= 0 ? parent.root : target;
      record.reply = {
        root: { uri: this.posts[root]!.uri, cid: this.posts[root]!.cid },
        parent: { uri: parent.uri, cid: parent.cid },
      };
      if (this.rng() < 0.08) record.embed = this.mediaEmbed();
    } else if (kind === 'quote') {
      const quoted = { uri: this.posts[target]!.uri, cid: this.posts[target]!.cid };
      record.embed =
        this.rng() < 0.7
          ? { $type: 'app.bsky.embed.record', record: quoted }
          : { $type: 'app.bsky.embed.recordWithMedia', record: { $type: 'app.bsky.embed.record', record: quoted }, media: this.mediaEmbed() };
    } else if (this.rng() < 0.22) {
      record.embed = this.mediaEmbed();
    }
    record.createdAt = this.createdAtFor(timeUs);
    const event = this.commitEvent(actor, timeUs, 'create', Nsid.post, rkey, record) as JetstreamEvent & { kind: 'commit' };
    const bridging = kind === 'post' && this.communities.length > 1 && this.rng() < this.bridgingShare;
    const idx = this.posts.length;
    this.posts.push({ uri: atUri(u.did, Nsid.post, rkey), cid: event.commit.cid!, author: actor, root, deleted: false, bridging });
    this.livePostsOf.set(actor, (this.livePostsOf.get(actor) ?? 0) + 1);
    this.globalRecent.push(idx);
    const homes = bridging ? this.communities : u.communities.map((c) => this.communities[c]!);
    for (const community of homes) community.recent.push(idx);
    if (bridging) this.bridgingPosts.push(this.posts[idx]!.uri);
    if (target >= 0) this.engage(target);
    this.remember(actor, 'post', rkey, idx);
    return event;
  }

  private otherEvent(actor: number, timeUs: number): JetstreamEvent {
    const u = this.users[actor]!;
    const collection = pickOne(this.rng, otherCollections);
    const createdAt = this.createdAtFor(timeUs);
    switch (collection) {
      case 'app.bsky.actor.profile':
        return this.commitEvent(actor, timeUs, 'update', collection, 'self', {
          $type: collection,
          displayName: u.handle.split('.')[0],
          description: `${pickOne(this.rng, topicWords)} · ${pickOne(this.rng, topicWords)}`,
          avatar: this.blob('image/jpeg', 200_000),
          createdAt,
        });
      case 'chat.bsky.actor.declaration':
        return this.commitEvent(actor, timeUs, 'create', collection, 'self', { $type: collection, allowIncoming: 'following' });
      case 'app.bsky.feed.threadgate':
      case 'app.bsky.feed.postgate': {
        // Gates share the rkey of the (own) post they gate.
        const rkey = tid(timeUs - 1000 - floor(this.rng() * 60_000_000), u.clockId);
        const post = atUri(u.did, Nsid.post, rkey);
        const record: Record<string, unknown> =
          collection === 'app.bsky.feed.threadgate'
            ? { $type: collection, post, allow: [{ $type: 'app.bsky.feed.threadgate#followingRule' }], createdAt }
            : { $type: collection, post, embeddingRules: [{ $type: 'app.bsky.feed.postgate#disableRule' }], createdAt };
        return this.commitEvent(actor, timeUs, 'create', collection, rkey, record);
      }
      case 'app.bsky.graph.list':
        return this.commitEvent(actor, timeUs, 'create', collection, tid(timeUs, u.clockId), {
          $type: collection,
          name: `${pickOne(this.rng, topicWords)} people`,
          purpose: 'app.bsky.graph.defs#curatelist',
          createdAt,
        });
      case 'app.bsky.graph.starterpack':
        return this.commitEvent(actor, timeUs, 'create', collection, tid(timeUs, u.clockId), {
          $type: collection,
          name: `${pickOne(this.rng, topicWords)} starter pack`,
          list: atUri(u.did, Nsid.list, tid(timeUs - 5_000_000, u.clockId)),
          createdAt,
        });
      default:
        return this.commitEvent(actor, timeUs, 'create', collection, tid(timeUs, u.clockId), {
          $type: collection,
          subject: atUri(this.users[this.otherUser(actor, false)]!.did, Nsid.list, tid(timeUs - 9_000_000, 7)),
          createdAt,
        });
    }
  }

  private malformedItem(timeUs: number, ordinal: number): RawLine {
    const variant = malformedVariants[ordinal % malformedVariants.length]!;
    this.counts.malformed += 1;
    this.counts.malformedByVariant[variant] += 1;
    const actor = this.sampleActor();
    const did = this.users[actor]!.did;
    const rkey = tid(timeUs, this.users[actor]!.clockId);
    switch (variant) {
      case 'not-json': {
        const line = JSON.stringify({ did, time_us: timeUs, kind: 'commit', commit: { rev: rkey, operation: 'create', collection: Nsid.like } });
        return new RawLine(line.slice(0, floor(line.length * 0.6)), timeUs);
      }
      case 'text-not-string':
        return new RawLine(
          JSON.stringify({
            did,
            time_us: timeUs,
            kind: 'commit',
            commit: {
              rev: rkey,
              operation: 'create',
              collection: Nsid.post,
              rkey,
              record: { $type: Nsid.post, text: 42, createdAt: this.createdAtFor(timeUs) },
              cid: generateCid(this.rng),
            },
          }),
          timeUs,
        );
      case 'invalid-subject-uri':
        return new RawLine(
          JSON.stringify({
            did,
            time_us: timeUs,
            kind: 'commit',
            commit: {
              rev: rkey,
              operation: 'create',
              collection: Nsid.like,
              rkey,
              record: { $type: Nsid.like, subject: { uri: `https://bsky.app/profile/${did}/post/${rkey}`, cid: generateCid(this.rng) }, createdAt: this.createdAtFor(timeUs) },
              cid: generateCid(this.rng),
            },
          }),
          timeUs,
        );
      case 'missing-time-us':
        return new RawLine(
          JSON.stringify({ did, kind: 'commit', commit: { rev: rkey, operation: 'delete', collection: Nsid.like, rkey } }),
          timeUs,
        );
    }
  }
}
