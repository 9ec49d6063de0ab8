import { readFile } from 'node:fs/promises';
import { isMap, LineCounter, parseDocument, type Document } from 'yaml';
import type { z, ZodTypeAny } from 'zod';
import { InvalidCurationError, type CurationProblem } from './curation.errors.js';
import { deliberationSchema } from './deliberation.schema.js';
import { digestSchema } from './digest.schema.js';
import {
  Rankings,
  type CommunityDefinition,
  type Curation,
  type FeedDefinition,
  type MemberSources,
  type Ranking,
} from './curation.types.js';
import { fundSchema, type FundDefinition } from './fund.schema.js';
import { feedLabelRulesSchema, type FeedLabelRules } from './feed-labels.schema.js';

const SHORTNAME = /^[a-z0-9][a-z0-9-]{0,14}$/;
const COMMUNITY_ID = /^[a-z0-9][a-z0-9_-]{0,63}$/;
const DID = /^did:(plc|web):[A-Za-z0-9._:%-]+$/;
const HANDLE = /^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]([a-z0-9-]{0,61}[a-z0-9])?$/i;
const LIST_URI = /^at:\/\/did:[a-z]+:[A-Za-z0-9._:%-]+\/app\.bsky\.graph\.list\/[A-Za-z0-9._~:-]{1,512}$/;
const STARTER_PACK_URI = /^at:\/\/did:[a-z]+:[A-Za-z0-9._:%-]+\/app\.bsky\.graph\.starterpack\/[A-Za-z0-9._~:-]{1,512}$/;
const HASHTAG = /^[^\s#]{1,64}$/u;

const graphemes = (text: string) => [...new Intl.Segmenter('en', { granularity: 'grapheme' }).segment(text)].length;

/**
 * Validates a curator document and reports every problem with its file, line and field.
 * The YAML tree is kept so that a problem points at the line a curator has to fix.
 */
class Checker {
  readonly problems: CurationProblem[] = [];

  constructor(
    private readonly file: string,
    private readonly doc: Document,
    private readonly lines: LineCounter,
  ) {}

  problem(path: (string | number)[], message: string): void {
    let node: unknown = undefined;
    for (let depth = path.length; depth >= 0 && !node; depth -= 1) {
      node = depth === 0 ? this.doc.contents : this.doc.getIn(path.slice(0, depth), true);
    }
    const offset = (node as { range?: [number, number, number] } | undefined)?.range?.[0] ?? 0;
    const { line, col } = this.lines.linePos(offset);
    this.problems.push({ file: this.file, line, column: col, field: path.join('.') || '(document)', message });
  }

  object(value: unknown, path: (string | number)[]): Record<string, unknown> | undefined {
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as Record<string, unknown>;
    this.problem(path, 'expected a mapping of names to definitions');
    return undefined;
  }

  text(value: unknown, path: (string | number)[], options: { required?: boolean; max?: number; fallback?: string } = {}): string {
    if (value === undefined || value === null) {
      if (options.required) this.problem(path, 'is required');
      return options.fallback ?? '';
    }
    if (typeof value !== 'string') {
      this.problem(path, 'expected text');
      return options.fallback ?? '';
    }
    if (options.max !== undefined && graphemes(value) > options.max) this.problem(path, `longer than ${options.max} characters`);
    return value;
  }

  flag(value: unknown, path: (string | number)[], fallback: boolean): boolean {
    if (value === undefined) return fallback;
    if (typeof value !== 'boolean') this.problem(path, 'expected true or false');
    return value === true;
  }

  positive(value: unknown, path: (string | number)[], fallback: number): number {
    if (value === undefined) return fallback;
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
      this.problem(path, 'expected a positive number');
      return fallback;
    }
    return value;
  }

  strings(value: unknown, path: (string | number)[], pattern: RegExp, what: string): string[] {
    if (value === undefined || value === null) return [];
    if (!Array.isArray(value)) {
      this.problem(path, `expected a list of ${what}`);
      return [];
    }
    return value.filter((item, index) => {
      const ok = typeof item === 'string' && pattern.test(item);
      if (!ok) this.problem([...path, index], `expected ${what}, got ${JSON.stringify(item)}`);
      return ok;
    }) as string[];
  }

  /** A section declared as a zod schema: its value, or undefined with each issue reported at its field. */
  schema<S extends ZodTypeAny>(schema: S, value: unknown, path: (string | number)[]): z.output<S> | undefined {
    const parsed = schema.safeParse(value);
    if (parsed.success) return parsed.data;
    for (const issue of parsed.error.issues) this.problem([...path, ...issue.path.map((key) => (typeof key === 'symbol' ? String(key) : key))], issue.message);
    return undefined;
  }

  unknownKeys(value: Record<string, unknown>, path: (string | number)[], known: readonly string[]): void {
    for (const key of Object.keys(value)) {
      if (!known.includes(key)) this.problem([...path, key], `unknown field (known: ${known.join(', ')})`);
    }
  }
}

const memberKeys = ['dids', 'handles', 'lists', 'starterPacks', 'hashtags', 'followersOf', 'exclude'] as const;
const communityKeys = ['name', 'description', 'members', 'allowSelfEnrolment'] as const;
/** Member sources anyone can enter by themselves: posting a tag, following an account. */
const selfEnrolling = ['hashtags', 'followersOf'] as const;
const feedKeys = [
  'displayName',
  'description',
  'communities',
  'ranking',
  'membersOnly',
  'includeReplies',
  'windowHours',
  'halfLifeHours',
  'balance',
  'digest',
  'deliberation',
  'exclude',
  'downrank',
] as const;

/** A feed's `exclude` and `downrank` through their zod schema, each issue reported at its field. */
function checkLabelRules(check: Checker, feed: Record<string, unknown>, path: (string | number)[]): FeedLabelRules | undefined {
  if (feed.exclude === undefined && feed.downrank === undefined) return undefined;
  const parsed = feedLabelRulesSchema.safeParse({ exclude: feed.exclude, downrank: feed.downrank });
  if (parsed.success) return parsed.data;
  for (const issue of parsed.error.issues) check.problem([...path, ...issue.path], issue.message);
  return undefined;
}

function checkMembers(check: Checker, value: unknown, path: (string | number)[]): MemberSources {
  const members = value === undefined ? {} : (check.object(value, path) ?? {});
  check.unknownKeys(members, path, memberKeys);
  const sources: MemberSources = {
    dids: check.strings(members.dids, [...path, 'dids'], DID, 'a DID'),
    handles: check.strings(members.handles, [...path, 'handles'], HANDLE, 'a handle').map((handle) => handle.toLowerCase()),
    lists: check.strings(members.lists, [...path, 'lists'], LIST_URI, 'an app.bsky.graph.list AT-URI'),
    starterPacks: check.strings(members.starterPacks, [...path, 'starterPacks'], STARTER_PACK_URI, 'an app.bsky.graph.starterpack AT-URI'),
    hashtags: check.strings(members.hashtags, [...path, 'hashtags'], HASHTAG, 'a hashtag').map((tag) => tag.toLowerCase()),
    followersOf: check.strings(members.followersOf, [...path, 'followersOf'], DID, 'a DID'),
    exclude: check.strings(members.exclude, [...path, 'exclude'], DID, 'a DID'),
  };
  const sourceCount = memberKeys.filter((key) => key !== 'exclude').reduce((sum, key) => sum + sources[key].length, 0);
  if (sourceCount === 0) check.problem(path, 'a community needs at least one member source (dids, handles, lists, …)');
  return sources;
}

/** A feed section that belongs to one ranking (`digest`, `deliberation`): required on it, refused on any other. */
function rankingSection<S extends ZodTypeAny>(
  check: Checker,
  feed: Record<string, unknown>,
  path: (string | number)[],
  ranking: Ranking,
  key: Ranking & ('digest' | 'deliberation'),
  schema: S,
  needs: string,
): z.output<S> | undefined {
  const value = feed[key];
  if (ranking === key && value === undefined) check.problem([...path, key], `a ${key} feed needs a ${key} section (${needs})`);
  if (ranking !== key && value !== undefined) check.problem([...path, key], `only a feed with ranking: ${key} has a ${key} section`);
  return value === undefined ? undefined : check.schema(schema, value, [...path, key]);
}

/** Parses and validates curator YAML (or JSON, which is YAML). Throws `InvalidCurationError`. */
export function parseCuration(text: string, file: string): Curation {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const check = new Checker(file, doc, lines);
  for (const error of doc.errors) {
    const { line, col } = lines.linePos(error.pos[0]);
    check.problems.push({ file, line, column: col, field: '(syntax)', message: error.message.split('\n')[0]! });
  }
  if (check.problems.length > 0) throw new InvalidCurationError(check.problems);
  if (doc.contents !== null && !isMap(doc.contents)) check.problem([], 'expected a mapping with communities and feeds');
  const root = (doc.toJS() ?? {}) as Record<string, unknown>;
  check.unknownKeys(root, [], ['communities', 'feeds', 'funds']);

  const communities = new Map<string, CommunityDefinition>();
  for (const [id, value] of Object.entries(check.object(root.communities ?? {}, ['communities']) ?? {})) {
    const path = ['communities', id];
    if (!COMMUNITY_ID.test(id)) check.problem(path, 'community ids use a-z, 0-9, - and _ (at most 64)');
    const community = check.object(value, path) ?? {};
    check.unknownKeys(community, path, communityKeys);
    communities.set(id, {
      id,
      name: check.text(community.name, [...path, 'name'], { fallback: id, max: 64 }),
      description: check.text(community.description, [...path, 'description'], { max: 300 }),
      members: checkMembers(check, community.members, [...path, 'members']),
      allowSelfEnrolment: check.flag(community.allowSelfEnrolment, [...path, 'allowSelfEnrolment'], false),
    });
  }

  const feeds = new Map<string, FeedDefinition>();
  for (const [shortname, value] of Object.entries(check.object(root.feeds ?? {}, ['feeds']) ?? {})) {
    const path = ['feeds', shortname];
    if (!SHORTNAME.test(shortname)) check.problem(path, 'feed short names use a-z, 0-9 and - (at most 15): they are record keys');
    const feed = check.object(value, path) ?? {};
    check.unknownKeys(feed, path, feedKeys);
    const feedCommunities = check.strings(feed.communities, [...path, 'communities'], COMMUNITY_ID, 'a community id');
    if (feedCommunities.length === 0) check.problem([...path, 'communities'], 'name at least one community');
    feedCommunities.forEach((id, index) => {
      if (!communities.has(id)) check.problem([...path, 'communities', index], `no community "${id}" is defined`);
    });
    const ranking = (feed.ranking ?? 'recent') as Ranking;
    if (!Rankings.includes(ranking)) check.problem([...path, 'ranking'], `expected one of ${Rankings.join(', ')}`);
    let balance: FeedDefinition['balance'] = 'equal';
    if (feed.balance !== undefined && feed.balance !== 'equal') {
      const shares = check.object(feed.balance, [...path, 'balance']) ?? {};
      balance = Object.fromEntries(
        Object.entries(shares).map(([side, share]) => [side, check.positive(share, [...path, 'balance', side], 1)]),
      );
    }
    const digest = rankingSection(check, feed, path, ranking, 'digest', digestSchema, 'cadence, size, base');
    const deliberation = rankingSection(check, feed, path, ranking, 'deliberation', deliberationSchema, 'root or hashtag');
    const membersOnly = check.flag(feed.membersOnly, [...path, 'membersOnly'], false);
    if (membersOnly) {
      // @NOTE A members-only feed keeps a community's context inside it; over a source anyone can
      // join by posting a tag or following an account, that promise would be empty unless the
      // curator says so explicitly.
      for (const id of feedCommunities) {
        const community = communities.get(id);
        const open = selfEnrolling.filter((source) => (community?.members[source].length ?? 0) > 0);
        if (community && !community.allowSelfEnrolment && open.length > 0) {
          check.problem(
            [...path, 'membersOnly'],
            `community "${id}" lets anyone join (${open.join(', ')}); set allowSelfEnrolment: true on it to serve it members-only`,
          );
        }
      }
    }
    const labels = checkLabelRules(check, feed, path);
    feeds.set(shortname, {
      ...(labels && { labels }),
      shortname,
      displayName: check.text(feed.displayName, [...path, 'displayName'], { required: true, max: 24 }),
      description: check.text(feed.description, [...path, 'description'], { max: 300 }),
      communities: feedCommunities,
      ranking,
      membersOnly,
      includeReplies: check.flag(feed.includeReplies, [...path, 'includeReplies'], false),
      windowHours: check.positive(feed.windowHours, [...path, 'windowHours'], 72),
      halfLifeHours: check.positive(feed.halfLifeHours, [...path, 'halfLifeHours'], 12),
      balance,
      ...(digest && { digest }),
      ...(deliberation && { deliberation }),
    });
  }
  const funds = checkFunds(check, root.funds, communities, feeds);
  if (check.problems.length > 0) throw new InvalidCurationError(check.problems);
  return { communities, feeds, funds };
}

/** `funds`: each validated by `fundSchema`, for a defined community, boosting only feeds over it. */
function checkFunds(check: Checker, value: unknown, communities: Map<string, CommunityDefinition>, feeds: Map<string, FeedDefinition>): Map<string, FundDefinition> {
  const funds = new Map<string, FundDefinition>();
  for (const [id, raw] of Object.entries(check.object(value ?? {}, ['funds']) ?? {})) {
    const path = ['funds', id];
    if (!communities.has(id)) check.problem(path, `no community "${id}" is defined`);
    const parsed = fundSchema.safeParse(raw ?? {});
    if (!parsed.success) {
      for (const issue of parsed.error.issues) check.problem([...path, ...issue.path], issue.message);
      continue;
    }
    parsed.data.feeds.forEach((name, index) => {
      if (!feeds.get(name)?.communities.includes(id)) check.problem([...path, 'feeds', index], `no feed "${name}" over community "${id}"`);
    });
    funds.set(id, { ...parsed.data, community: id });
  }
  return funds;
}

export async function loadCurationFile(file: string): Promise<Curation> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new InvalidCurationError([
      { file, line: 0, column: 0, field: '(file)', message: `cannot be read: ${(error as Error).message}` },
    ]);
  }
  return parseCuration(text, file);
}
