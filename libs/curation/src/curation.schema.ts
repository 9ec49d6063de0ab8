import { normaliseTag } from '#lib/domain';
import { z } from 'zod';
import { communityToken } from '#lib/labels';
import { deliberationSchema } from './deliberation.schema.js';
import { digestSchema } from './digest.schema.js';
import { feedLabelRulesSchema } from './feed-labels.schema.js';
import { distinct, fields } from './fields.js';
import { fundSchema } from './fund.schema.js';

/**
 * The curator file's shape, declared once: the types (`curation.types.ts`) are inferred from it and
 * the loader maps each issue's path onto the YAML tree to name the file, line and field.
 *
 * Composing: a new per-feed or per-community field is one property in `FeedSchema` or
 * `CommunitySchema` (its own schema may live in a file of its own); a new top-level section is one
 * property in `CurationDocumentSchema`. Known-key lists follow from the shapes. Messages are
 * written for curators: give each schema its own (`{ message }`, or the helpers below).
 */

export const Rankings = ['recent', 'bridging', 'bridging-within', 'balanced', 'digest', 'deliberation'] as const;
export type Ranking = (typeof Rankings)[number];

const SHORTNAME = /^[a-z0-9][a-z0-9-]{0,14}$/;
const COMMUNITY_ID = /^[a-z0-9][a-z0-9_-]{0,63}$/;
const DID = /^did:(plc|web):[A-Za-z0-9._:%-]+$/;
const HANDLE = /^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]([a-z0-9-]{0,61}[a-z0-9])?$/i;
const LIST_URI = /^at:\/\/did:[a-z]+:[A-Za-z0-9._:%-]+\/app\.bsky\.graph\.list\/[A-Za-z0-9._~:-]{1,512}$/;
const STARTER_PACK_URI = /^at:\/\/did:[a-z]+:[A-Za-z0-9._:%-]+\/app\.bsky\.graph\.starterpack\/[A-Za-z0-9._~:-]{1,512}$/;
const HASHTAG = /^[^\s#]{1,64}$/u;

const graphemes = (text: string) => [...new Intl.Segmenter('en', { granularity: 'grapheme' }).segment(text)].length;
const utf8Bytes = (text: string) => Buffer.byteLength(text, 'utf8');
const nullAsAbsent = (value: unknown) => (value === null ? undefined : value);

/**
 * The longest window a feed may rank, in hours (31 days).
 *
 * @NOTE Posts and approvals are kept without a TTL, but impressions and viewer feedback only 14
 * days (migrations 2 and 6): past that, exposure is estimated, never reported. Every run reads the
 * whole window, so it has to stay a bounded read; a month covers a monthly digest and the
 * evaluation's replays (at most 30 days and a day), and keeps `sinceUs` far from going negative.
 */
export const MAX_WINDOW_HOURS = 744;

/** The sides of a community's opinion axis that `balanced` shares out (`ScoredPost.side` in `#lib/rankings`). */
export const BalanceSides = ['positive', 'negative'] as const;


/** A mapping of names (matching `key`) to definitions; an empty section (`feeds:`) has none. */
export function mapping<V extends z.ZodTypeAny>(key: z.ZodString, value: V) {
  return z.preprocess(nullAsAbsent, z.record(key, value, { invalid_type_error: 'expected a mapping of names to definitions' }).default({}));
}

/**
 * A lexicon's two limits on a string: `graphemes` (what a reader counts as characters) and `bytes`
 * of UTF-8 (its `maxLength`). An emoji is one grapheme but may take 25 bytes or more, so text
 * within the first can break the second, and the PDS refuses a record over it.
 */
export interface TextLimits {
  graphemes: number;
  bytes: number;
}

/** `app.bsky.feed.generator`'s `displayName` and `description`. */
const FEED_DISPLAY_NAME: TextLimits = { graphemes: 24, bytes: 240 };
const FEED_DESCRIPTION: TextLimits = { graphemes: 300, bytes: 3_000 };
/**
 * A community's name is part of its label values' names (`Supported by …`, at most 64 graphemes
 * and 640 bytes in `com.atproto.label.defs#labelValueDefinitionStrings`) and descriptions.
 */
const COMMUNITY_NAME: TextLimits = { graphemes: 64, bytes: 640 };
const COMMUNITY_DESCRIPTION: TextLimits = { graphemes: 300, bytes: 3_000 };

function limitedText(string: z.ZodString, { graphemes: max, bytes }: TextLimits) {
  return string
    .refine((value) => graphemes(value) <= max, `longer than ${max} characters`)
    .refine((value) => utf8Bytes(value) <= bytes, `longer than ${bytes} bytes of UTF-8 (emoji and accented letters take several each)`);
}

/** Optional text within `limits`; `null` is absent. */
export function text(limits: TextLimits) {
  return z.preprocess(nullAsAbsent, limitedText(z.string({ invalid_type_error: 'expected text' }), limits).optional());
}

/** Required text within `limits`. */
export function requiredText(limits: TextLimits) {
  return z.preprocess(nullAsAbsent, limitedText(z.string({ required_error: 'is required', invalid_type_error: 'expected text' }), limits));
}

export const flag = (fallback: boolean) => z.boolean({ invalid_type_error: 'expected true or false' }).default(fallback);

const positiveNumber = z
  .number({ invalid_type_error: 'expected a positive number' })
  .finite('expected a positive number')
  .positive('expected a positive number');

/** A list of strings matching `pattern`; each bad item is named with its index. */
export function strings(pattern: RegExp, what: string) {
  const item = z.unknown().refine(
    (value): value is string => typeof value === 'string' && pattern.test(value),
    (value) => ({ message: `expected ${what}, got ${JSON.stringify(value)}` }),
  );
  return z.preprocess(nullAsAbsent, z.array(item, { invalid_type_error: `expected a list of ${what}` }).default([]));
}

const lowerCase = (values: string[]) => values.map((value) => value.toLowerCase());

export const MemberSourcesSchema = fields({
  /** Accounts named directly. */
  dids: strings(DID, 'a DID'),
  /**
   * Handles: members once the handle's domain names a DID whose DID document names the handle
   * back (never from the firehose's identity events, where any DID can claim any handle).
   */
  handles: strings(HANDLE, 'a handle').transform(lowerCase),
  /** AT-URIs of `app.bsky.graph.list` records: members follow the list live. */
  lists: strings(LIST_URI, 'an app.bsky.graph.list AT-URI'),
  /** AT-URIs of `app.bsky.graph.starterpack` records: members are the pack's list. */
  starterPacks: strings(STARTER_PACK_URI, 'an app.bsky.graph.starterpack AT-URI'),
  /** Authors who used one of these hashtags (lower case, without '#') within the feed window. */
  hashtags: strings(HASHTAG, 'a hashtag').transform((tags) => tags.map(normaliseTag)),
  /** Accounts that follow one of these seed accounts. */
  followersOf: strings(DID, 'a DID'),
  /** Never members, whatever the other sources say. */
  exclude: strings(DID, 'a DID'),
}).superRefine((sources, ctx) => {
  const { exclude: _exclude, ...includes } = sources;
  if (Object.values(includes).every((list) => list.length === 0)) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'a community needs at least one member source (dids, handles, lists, …)' });
  }
});

/** Member sources anyone can enter by themselves: posting a tag, following an account. */
export const selfEnrolling = ['hashtags', 'followersOf'] as const;

export const CommunitySchema = fields({
  /** Shown to curators and in feed context; the community's id when absent. */
  name: text(COMMUNITY_NAME),
  description: text(COMMUNITY_DESCRIPTION).transform((value) => value ?? ''),
  members: MemberSourcesSchema.default({}),
  /**
   * The curator accepts that anyone can make themselves a member (through `hashtags` or
   * `followersOf`); only then may a `membersOnly` feed use this community.
   */
  allowSelfEnrolment: flag(false),
});

export const FeedSchema = fields({
  displayName: requiredText(FEED_DISPLAY_NAME),
  description: text(FEED_DESCRIPTION).transform((value) => value ?? ''),
  communities: strings(COMMUNITY_ID, 'a community id')
    .refine((ids) => ids.length > 0, 'name at least one community')
    .superRefine(distinct),
  ranking: z
    .unknown()
    .refine((value): value is Ranking => Rankings.includes(value as Ranking), `expected one of ${Rankings.join(', ')}`)
    .default('recent'),
  /**
   * Served only to viewers whose verified DID belongs to one of the feed's communities; refused
   * over a self-enrolling community unless it sets `allowSelfEnrolment`.
   */
  membersOnly: flag(false),
  includeReplies: flag(false),
  /** Posts older than this are not ranked; at most `MAX_WINDOW_HOURS`. Default: `defaultTimescales`. */
  windowHours: positiveNumber.max(MAX_WINDOW_HOURS, `at most ${MAX_WINDOW_HOURS} hours (31 days)`).optional(),
  /** Score halves every this many hours (bridging rankings). Default: `defaultTimescales`. */
  halfLifeHours: positiveNumber.optional(),
  /** Share of the top of the feed per side (`positive`, `negative`) for `balanced`; equal when absent. */
  balance: z.preprocess(
    (value) => (value === 'equal' ? undefined : value),
    z
      .record(z.string(), positiveNumber, { invalid_type_error: `expected equal, or a mapping of sides (${BalanceSides.join(', ')}) to shares` })
      .superRefine(balanceSides)
      .optional()
      .transform((shares): 'equal' | Record<string, number> => shares ?? 'equal'),
  ),
  /** Cadence, size, base ranking and end card of a `digest` feed (required there, refused elsewhere). */
  digest: digestSchema.optional(),
  /** The conversation a `deliberation` feed serves statements of (required there, refused elsewhere). */
  deliberation: deliberationSchema.optional(),
  /** Values from the labelers we follow that remove posts (`exclude`) or scale their scores (`downrank`). */
  exclude: feedLabelRulesSchema.shape.exclude.optional(),
  downrank: feedLabelRulesSchema.shape.downrank,
});

/** Only the sides that exist mean anything: a share for another name would turn balancing off. */
function balanceSides(shares: Record<string, number>, ctx: z.RefinementCtx): void {
  const keys = Object.keys(shares);
  for (const key of keys) {
    if (!(BalanceSides as readonly string[]).includes(key)) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: [key], message: `unknown side (known: ${BalanceSides.join(', ')})` });
    }
  }
  if (keys.length === 0) ctx.addIssue({ code: z.ZodIssueCode.custom, message: `name the share of ${BalanceSides.join(' or ')}, or write equal` });
}

type CommunityFields = z.output<typeof CommunitySchema>;
type FeedFields = z.output<typeof FeedSchema>;
type FundFields = z.output<typeof fundSchema>;

/** Sections that belong to one ranking: required on it, refused on any other. */
const rankingSections = { digest: 'cadence, size, base', deliberation: 'root or hashtag' } as const;

/** `record[key]` when `record` has it as its own property: ids such as `constructor` are not definitions. */
const own = <V>(record: Record<string, V>, key: string): V | undefined => (Object.hasOwn(record, key) ? record[key] : undefined);

/**
 * Rules across sections: each community has a label token of its own, a feed's communities exist,
 * members-only feeds keep their promise, a ranking's own section is where it belongs, and a fund
 * is a defined community's, boosting only feeds over it.
 */
function checkReferences(
  document: { communities: Record<string, CommunityFields>; feeds: Record<string, FeedFields>; funds: Record<string, FundFields> },
  ctx: z.RefinementCtx,
): void {
  // Label values name a community by its token (`supported-by-ward-seven`): two ids with one token
  // (`ward_7`, `ward-7`, `ward7`) would share their labels, and no reader could tell them apart.
  const tokens = new Map<string, string>();
  for (const id of Object.keys(document.communities)) {
    const token = communityToken(id);
    const first = tokens.get(token);
    if (first === undefined) tokens.set(token, id);
    else {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['communities', id],
        message: `communities "${first}" and "${id}" both become the label token "${token}" (supported-by-${token}, …): rename one`,
      });
    }
  }
  for (const [id, fund] of Object.entries(document.funds)) {
    if (!own(document.communities, id)) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['funds', id], message: `no community "${id}" is defined` });
    fund.feeds.forEach((name, index) => {
      if (!own(document.feeds, name)?.communities.includes(id)) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['funds', id, 'feeds', index], message: `no feed "${name}" over community "${id}"` });
      }
    });
  }
  for (const [shortname, feed] of Object.entries(document.feeds)) {
    for (const [key, needs] of Object.entries(rankingSections) as [keyof typeof rankingSections, string][]) {
      if (feed.ranking === key && feed[key] === undefined) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['feeds', shortname, key], message: `a ${key} feed needs a ${key} section (${needs})` });
      }
      if (feed.ranking !== key && feed[key] !== undefined) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['feeds', shortname, key], message: `only a feed with ranking: ${key} has a ${key} section` });
      }
    }
    feed.communities.forEach((id, index) => {
      if (!own(document.communities, id)) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['feeds', shortname, 'communities', index], message: `no community "${id}" is defined` });
      }
    });
    if (!feed.membersOnly) continue;
    // @NOTE A members-only feed keeps a community's context inside it; over a source anyone can
    // join by posting a tag or following an account, that promise would be empty unless the
    // curator says so explicitly.
    for (const id of feed.communities) {
      const community = own(document.communities, id);
      const open = selfEnrolling.filter((source) => (community?.members[source].length ?? 0) > 0);
      if (community && !community.allowSelfEnrolment && open.length > 0) {
        ctx.addIssue({
          code: z.ZodIssueCode.custom,
          path: ['feeds', shortname, 'membersOnly'],
          message: `community "${id}" lets anyone join (${open.join(', ')}); set allowSelfEnrolment: true on it to serve it members-only`,
        });
      }
    }
  }
}

/** A whole curator file, as curators write it. */
export const CurationDocumentSchema = z
  .preprocess(
    nullAsAbsent,
    fields({
      communities: mapping(z.string().regex(COMMUNITY_ID, 'community ids use a-z, 0-9, - and _ (at most 64)'), CommunitySchema),
      feeds: mapping(z.string().regex(SHORTNAME, 'feed short names use a-z, 0-9 and - (at most 15): they are record keys'), FeedSchema),
      /** Bridge Funds, keyed by the community that owns each. */
      funds: mapping(z.string().regex(COMMUNITY_ID, 'fund ids are community ids'), z.preprocess((value) => value ?? {}, fundSchema)),
    }, 'expected a mapping with communities and feeds').default({}),
  )
  .superRefine(checkReferences);

/** The definitions the services use: communities and feeds by id, each knowing its own id. */
export const CurationSchema = CurationDocumentSchema.transform(({ communities, feeds, funds }) => ({
  communities: new Map(Object.entries(communities).map(([id, { name, ...community }]) => [id, { id, name: name ?? id, ...community }])),
  feeds: new Map(Object.entries(feeds).map(([shortname, feed]) => [shortname, feedDefinition(shortname, feed)])),
  funds: new Map(Object.entries(funds).map(([community, fund]) => [community, { ...fund, community }])),
}));

/** Hours between two editions of a digest. */
const CADENCE_HOURS = { daily: 24, weekly: 168 } as const;

/**
 * A feed's window and half-life when its curator sets none: 72 and 12 hours, and for a digest at
 * least its period and half of it. A weekly edition is the best of the week: with three days'
 * window and a twelve-hour half-life, Monday's edition could hold nothing posted before Friday.
 */
function defaultTimescales(digest: FeedFields['digest']): { windowHours: number; halfLifeHours: number } {
  const period = digest ? CADENCE_HOURS[digest.cadence] : 0;
  return { windowHours: Math.max(72, period), halfLifeHours: Math.max(12, period / 2) };
}

/**
 * A feed as the services use it: its label rules grouped (`labels`), absent when it has none; its
 * timescales set, and the ones set by default named (`defaulted`, absent when none), so that an
 * editor can leave them to the default instead of writing today's default into the feed (a feed
 * made a weekly digest then keeps a three-day window).
 */
function feedDefinition(shortname: string, { exclude, downrank, digest, deliberation, windowHours, halfLifeHours, ...feed }: FeedFields) {
  const labels = exclude !== undefined || downrank !== undefined ? { exclude: exclude ?? [], ...(downrank && { downrank }) } : undefined;
  const defaults = defaultTimescales(digest);
  const written = { windowHours, halfLifeHours };
  const defaulted = (['windowHours', 'halfLifeHours'] as const).filter((name) => written[name] === undefined);
  return {
    shortname,
    ...feed,
    windowHours: windowHours ?? defaults.windowHours,
    halfLifeHours: halfLifeHours ?? defaults.halfLifeHours,
    ...(defaulted.length > 0 && { defaulted }),
    ...(labels && { labels }),
    ...(digest && { digest }),
    ...(deliberation && { deliberation }),
  };
}
