import fc from 'fast-check';
import { Nsid, type JetstreamEvent } from '#lib/domain';
import { RawFrame, type ReplayItem } from '../jetstream-replay.server.js';
import { deeplyNested, edgeNumbers, nastyJsonValue, nastyString } from './hostile-values.js';

/** What each hostile frame tries; the fuzz report counts frames per kind. */
const HostileFrameKinds = [
  'truncated',
  'not-json',
  'binary',
  'non-object',
  'wrong-type',
  'invalid-id',
  'unknown-collection',
  'time-range',
  'deep',
  'prototype',
  'extra-fields',
  'huge',
] as const;
export type HostileFrameKind = (typeof HostileFrameKinds)[number];

interface FuzzFramesOptions {
  seed: number;
  /** Frames in total, valid events included. */
  frames: number;
  /** `time_us` of the first valid event; later ones follow 1 ms apart. */
  startUs: number;
  /** Share of the frames that are valid events of the member accounts (default 0.1). */
  validShare?: number;
  /** One frame in this many is huge, megabytes of text (default 4000; 0: none). */
  hugeEvery?: number;
  /** Member accounts (default 40). */
  members?: number;
}

interface FuzzFrames {
  /** Frames in send order (each carries its place on the replay timeline). */
  items: ReplayItem[];
  /** The accounts whose events are all valid: a feed of them must hold every valid post. */
  members: string[];
  valid: { events: number; posts: number; byType: Record<string, number> };
  hostile: Record<HostileFrameKind, number>;
}

/** Accounts whose frames are valid, and accounts whose frames are hostile, never the same. */
const memberDid = (i: number): string => `did:plc:fuzzmember${String(i).padStart(16, '0')}`;
const strangerDid = (i: number): string => `did:plc:fuzzstranger${String(i % 5000).padStart(12, '0')}`;

const TID_CHARS = '234567abcdefghijklmnopqrstuvwxyz';
/** A record key shaped like a TID (13 base32-sortable characters), unique per `n`. */
function tidLike(n: number, prefix: string): string {
  let out = '';
  let rest = n;
  for (let i = 0; i < 9; i++) {
    out = TID_CHARS[rest % 32]! + out;
    rest = Math.floor(rest / 32);
  }
  return `3${prefix}${out}`.padEnd(13, '2').slice(0, 13);
}

/** A well-formed commit, identity or account event, the raw material valid frames and mutations start from. */
function template(did: string, timeUs: number, n: number, shape: number, otherDid: string): JetstreamEvent {
  const createdAt = new Date(timeUs / 1000).toISOString();
  const commit = (collection: string, rkey: string, record: Record<string, unknown>): JetstreamEvent => ({
    did,
    time_us: timeUs,
    kind: 'commit',
    commit: { rev: tidLike(n, 'r'), operation: 'create', collection, rkey, record: { $type: collection, ...record }, cid: `bafyreifuzz${n}` },
  });
  const postUri = `at://${otherDid}/${Nsid.post}/${tidLike(n + 1, 'p')}`;
  switch (shape % 7) {
    case 0:
      return commit(Nsid.post, tidLike(n, 'p'), { text: `fuzz post ${n} #common #ground`, langs: ['en'], createdAt });
    case 1:
      return commit(Nsid.post, tidLike(n, 'p'), {
        text: `a reply with a link ${n}`,
        createdAt,
        reply: { root: { uri: postUri, cid: 'bafyreiroot' }, parent: { uri: postUri, cid: 'bafyreiparent' } },
        facets: [{ index: { byteStart: 0, byteEnd: 1 }, features: [{ $type: 'app.bsky.richtext.facet#tag', tag: 'fuzz' }] }],
        embed: { $type: 'app.bsky.embed.record', record: { uri: postUri, cid: 'bafyreiquoted' } },
      });
    case 2:
      return commit(Nsid.like, tidLike(n, 'l'), { subject: { uri: postUri, cid: 'bafyreiliked' }, createdAt });
    case 3:
      return commit(Nsid.follow, tidLike(n, 'f'), { subject: otherDid, createdAt });
    case 4:
      return commit(Nsid.listitem, tidLike(n, 'i'), { subject: otherDid, list: `at://${did}/${Nsid.list}/3kfuzzlist222`, createdAt });
    case 5:
      return { did, time_us: timeUs, kind: 'identity', identity: { did, handle: `fuzz${n}.example.com`, seq: n, time: createdAt } };
    default:
      // @NOTE Always active: a deactivated member's posts rightly leave the feeds, which would hide a lost one.
      return { did, time_us: timeUs, kind: 'account', account: { active: true, did, seq: n, time: createdAt } };
  }
}

/** Paths a mutation may overwrite, per event shape. */
const commitPaths = [
  ['did'],
  ['kind'],
  ['commit'],
  ['commit', 'operation'],
  ['commit', 'collection'],
  ['commit', 'rkey'],
  ['commit', 'cid'],
  ['commit', 'rev'],
  ['commit', 'record'],
  ['commit', 'record', '$type'],
  ['commit', 'record', 'text'],
  ['commit', 'record', 'createdAt'],
  ['commit', 'record', 'langs'],
  ['commit', 'record', 'reply'],
  ['commit', 'record', 'reply', 'root'],
  ['commit', 'record', 'reply', 'parent', 'uri'],
  ['commit', 'record', 'embed'],
  ['commit', 'record', 'embed', 'record'],
  ['commit', 'record', 'embed', '$type'],
  ['commit', 'record', 'facets'],
  ['commit', 'record', 'tags'],
  ['commit', 'record', 'subject'],
  ['commit', 'record', 'subject', 'uri'],
  ['commit', 'record', 'subject', 'cid'],
  ['commit', 'record', 'list'],
  ['identity'],
  ['identity', 'did'],
  ['identity', 'handle'],
  ['account'],
  ['account', 'active'],
  ['account', 'status'],
  ['account', 'did'],
] as const;

const idPaths = [
  ['did'],
  ['commit', 'rkey'],
  ['commit', 'cid'],
  ['commit', 'record', 'subject'],
  ['commit', 'record', 'subject', 'uri'],
  ['commit', 'record', 'list'],
  ['commit', 'record', 'reply', 'root', 'uri'],
  ['commit', 'record', 'embed', 'record', 'uri'],
] as const;

type Json = Record<string, unknown>;

/** Sets `path` in a deep copy of `event`, creating objects on the way. */
function withValue(event: JetstreamEvent, path: readonly string[], value: unknown): Json {
  const copy = structuredClone(event) as unknown as Json;
  let node: Json = copy;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) node[key] = {};
    node = node[key] as Json;
  }
  node[path[path.length - 1]!] = value;
  return copy;
}

const invalidDid = fc.oneof(
  nastyString,
  fc.constantFrom('did', 'did:', 'did:plc', 'did::x', 'did:PLC:abc', 'did:plc:a b', 'did:plc:abc:', 'did:plc:abc%', `did:plc:${'a'.repeat(2100)}`, 'did:plc:x/y'),
);
const invalidRkey = fc.oneof(nastyString, fc.constantFrom('.', '..', 'a/b', 'a b', 'a'.repeat(600), '#', '?', 'ü'));
const unknownCollection = fc.oneof(
  nastyString,
  fc.constantFrom('app.bsky.feed.unknown', 'com.example.record', 'app.bsky.feed.post.extra', 'app.bsky.FEED.post', 'app.bsky.feed.*', 'app.bsky.actor.profile', 'app.bsky.graph.list'),
);
const badTime = fc.oneof(fc.constantFrom<unknown>(...edgeNumbers, -1, 0, '1732000000000000', null, [], {}, true), nastyString);

interface Built {
  kind: HostileFrameKind;
  frame: string | Buffer;
  binary?: boolean;
}

/** One hostile frame, made from a well-formed event of a stranger account. */
function hostileFrame(): fc.Arbitrary<(base: JetstreamEvent) => Built> {
  const json = (kind: HostileFrameKind) => (value: unknown) => ({ kind, frame: JSON.stringify(value) });
  return fc.oneof(
    fc.double({ min: 0, max: 1, noNaN: true }).map((at) => (base: JetstreamEvent) => {
      const text = JSON.stringify(base);
      return { kind: 'truncated' as const, frame: text.slice(0, Math.floor(at * (text.length - 1))) };
    }),
    fc.oneof(fc.string({ unit: 'binary', maxLength: 200 }), fc.constantFrom('{', '}', '{"did":', '[1,', 'undefined', "{'did':'x'}", '{"a":1}{"b":2}', '\u0000', '{"kind":"commit",}'))
      .filter((text) => !isJson(text))
      .map((text) => () => ({ kind: 'not-json' as const, frame: text })),
    fc.uint8Array({ maxLength: 300 }).map((bytes) => () => ({ kind: 'binary' as const, frame: Buffer.from(bytes), binary: true })),
    fc.constantFrom<unknown>(null, 0, -1, 1e300, '', 'commit', true, false, [], [{}], [null], {}).map((value) => () => json('non-object')(value)),
    fc.tuple(fc.constantFrom(...commitPaths), nastyJsonValue).map(([path, value]) => (base: JetstreamEvent) => json('wrong-type')(withValue(base, path, value))),
    fc.tuple(fc.constantFrom(...idPaths), fc.oneof(invalidDid, invalidRkey)).map(([path, value]) => (base: JetstreamEvent) => json('invalid-id')(withValue(base, path, value))),
    unknownCollection.map((collection) => (base: JetstreamEvent) => json('unknown-collection')(withValue(base, ['commit', 'collection'], collection))),
    badTime.map((time) => (base: JetstreamEvent) => json('time-range')(withValue(base, ['time_us'], time))),
    fc.tuple(fc.integer({ min: 1_000, max: 50_000 }), fc.constantFrom('array' as const, 'object' as const), fc.boolean()).map(([depth, shape, inside]) => (base: JetstreamEvent) => {
      const nested = deeplyNested(depth, shape);
      if (!inside) return { kind: 'deep' as const, frame: nested };
      const text = JSON.stringify(withValue(base, ['commit', 'record', 'embed'], 0));
      return { kind: 'deep' as const, frame: text.replace('"embed":0', `"embed":${nested}`) };
    }),
    fc.constantFrom('__proto__', 'constructor', 'prototype').map((key) => (base: JetstreamEvent) => {
      const text = JSON.stringify(base);
      return { kind: 'prototype' as const, frame: `{"${key}":{"did":"x","polluted":true},${text.slice(1).replace('"commit":{', `"commit":{"${key}":{"toString":1},`)}` };
    }),
    fc.dictionary(fc.string({ maxLength: 12 }), nastyJsonValue, { maxKeys: 20 }).map((extra) => (base: JetstreamEvent) => json('extra-fields')({ ...extra, ...base, commit: { ...extra, ...((base as unknown as Json).commit as Json) } })),
  );
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/** A frame of `bytes` characters: a huge post text, DID, rkey or tag list. */
function hugeFrame(base: JetstreamEvent, bytes: number, variant: number): Built {
  const big = 'x'.repeat(bytes);
  const paths = [['commit', 'record', 'text'], ['did'], ['commit', 'rkey'], ['commit', 'record', 'langs']] as const;
  const path = paths[variant % paths.length]!;
  const value = path[path.length - 1] === 'langs' ? Array.from({ length: bytes / 8 }, (_, i) => `l${i}`) : big;
  return { kind: 'huge', frame: JSON.stringify(withValue(base, path, value)) };
}

/**
 * Hostile Jetstream frames mixed with valid events, reproducible from `seed` (fast-check). Valid
 * events belong to `members` only and hostile frames to other accounts only, so the valid events
 * stored can be counted exactly through a feed of the members, whatever the hostile ones did.
 */
export function generateFuzzFrames(options: FuzzFramesOptions): FuzzFrames {
  const validShare = options.validShare ?? 0.1;
  const hugeEvery = options.hugeEvery ?? 4000;
  const members = Array.from({ length: options.members ?? 40 }, (_, i) => memberDid(i));
  const plan = fc.sample(
    fc.record({ draw: fc.noBias(fc.nat({ max: 9_999 })), shape: fc.noBias(fc.nat()), other: fc.noBias(fc.nat()), make: hostileFrame() }),
    { seed: options.seed, numRuns: options.frames },
  );
  const items: ReplayItem[] = [];
  const byType: Record<string, number> = {};
  const hostile = Object.fromEntries(HostileFrameKinds.map((kind) => [kind, 0])) as Record<HostileFrameKind, number>;
  let posts = 0;
  let validEvents = 0;
  plan.forEach((step, i) => {
    // @NOTE Every frame gets its own place on the replay timeline, so that the replay server sends them in this order.
    const timeUs = options.startUs + i * 1000;
    if (step.draw < validShare * 10_000) {
      const did = members[step.other % members.length]!;
      const event = template(did, timeUs, i, step.shape, members[(step.other + 1) % members.length]!);
      const type = event.kind === 'commit' ? event.commit.collection : event.kind;
      byType[type] = (byType[type] ?? 0) + 1;
      if (event.kind === 'commit' && event.commit.collection === Nsid.post) posts += 1;
      validEvents += 1;
      items.push(event);
      return;
    }
    const base = template(strangerDid(step.other), timeUs, i, step.shape, strangerDid(step.other + 1));
    const built = hugeEvery > 0 && i % hugeEvery === hugeEvery - 1 ? hugeFrame(base, 256 * 1024 * (1 + (step.shape % 8)), step.other) : step.make(base);
    hostile[built.kind] += 1;
    items.push(new RawFrame(built.frame, { timeUs, binary: built.binary ?? false }));
  });
  return { items, members, valid: { events: validEvents, posts, byType }, hostile };
}
