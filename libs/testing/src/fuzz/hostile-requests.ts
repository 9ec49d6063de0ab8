import { connect } from 'node:net';
import fc from 'fast-check';
import { Nsid } from '#lib/domain';
import type { ForgedTokens } from './forged-tokens.js';
import { deeplyNested, edgeNumbers, nastyJsonValue, nastyString } from './hostile-values.js';

/** One HTTP request of the fuzzer; `route` names the handler it aims at, for the report. */
export interface FuzzRequest {
  route: string;
  method: string;
  /** Path and query, already encoded (hostile encodings included). */
  path: string;
  headers: Record<string, string>;
  body?: string;
}

interface FuzzRequestContext {
  /** DID in the feed URIs (`at://<publisher>/app.bsky.feed.generator/<shortname>`). */
  publisherDid: string;
  serviceDid: string;
  shortnames: readonly string[];
  /** Community ids of the curator file. */
  communities: readonly string[];
  adminToken: string;
  tokens: ForgedTokens;
  /** Posts that exist, so that some requests reach past validation. */
  postUris: readonly string[];
}

type Query = [string, string][];

const enc = (value: string): string => {
  try {
    return encodeURIComponent(value);
  } catch {
    // An unpaired surrogate cannot be percent-encoded as UTF-8: send its code units raw-escaped instead.
    return [...value].map((char) => `%${(char.charCodeAt(0) & 0xff).toString(16).padStart(2, '0')}`).join('');
  }
};

/** Query text: mostly encoded, sometimes verbatim (invalid percent escapes, raw `&`, `=`, `#`). */
const queryText = (query: Query, raw: boolean): string =>
  query.length === 0 ? '' : `?${query.map(([key, value]) => (raw ? `${key}=${value}` : `${enc(key)}=${enc(value)}`)).join('&')}`;

/** Header values that `fetch` can carry (visible Latin-1, no CR/LF); anything else is reduced to that. */
const headerSafe = (value: string): string => value.replace(/[^\x20-\x7e\x80-\xff]/g, '?').slice(0, 16_384);

function arbitraries(context: FuzzRequestContext) {
  const feedUri = (shortname: string) => `at://${context.publisherDid}/${Nsid.generator}/${shortname}`;
  const shortname = fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...context.shortnames) }, { weight: 2, arbitrary: nastyString });
  const communityId = fc.oneof({ weight: 2, arbitrary: fc.constantFrom(...context.communities, 'fuzz-new') }, { weight: 2, arbitrary: nastyString });
  const postUri = fc.oneof({ weight: 2, arbitrary: fc.constantFrom(...context.postUris) }, { weight: 2, arbitrary: nastyString });
  const number = fc.oneof(fc.constantFrom('1', '2', '30', '50', '100'), fc.constantFrom(...edgeNumbers).map(String), fc.integer().map(String), nastyString);
  const cursor = fc.oneof(
    nastyString,
    fc.tuple(fc.constantFrom('s', 't', '', 'x'), fc.oneof(fc.integer().map(String), fc.constantFrom(...edgeNumbers).map(String), nastyString), fc.oneof(fc.constant('bafyreifuzz1'), nastyString)).map(([prefix, order, cid]) => `${prefix}${order}::${cid}`),
  );
  const feed = fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...context.shortnames).map(feedUri) },
    { weight: 1, arbitrary: shortname.map(feedUri) },
    { weight: 1, arbitrary: fc.tuple(nastyString, shortname).map(([did, name]) => `at://${did}/${Nsid.generator}/${name}`) },
    { weight: 1, arbitrary: nastyString },
  );
  const authorization = fc.oneof(
    { weight: 2, arbitrary: fc.constant<string | undefined>(undefined) },
    { weight: 3, arbitrary: fc.constantFrom(...context.tokens.valid).map((token) => `Bearer ${token}`) },
    { weight: 4, arbitrary: fc.constantFrom(...context.tokens.forged).map((token) => `Bearer ${token}`) },
    { weight: 1, arbitrary: fc.constantFrom(`Bearer ${context.adminToken}`, `bearer  ${context.adminToken}`, context.adminToken, `Basic ${context.adminToken}`) },
    { weight: 1, arbitrary: nastyString.map((value) => (value.length > 0 ? value : 'Bearer')) },
    { weight: 1, arbitrary: nastyString.map((value) => `Bearer ${value}`) },
  );
  const adminAuthorization = fc.oneof(
    { weight: 5, arbitrary: fc.constant<string | undefined>(`Bearer ${context.adminToken}`) },
    { weight: 1, arbitrary: fc.constant<string | undefined>(undefined) },
    { weight: 2, arbitrary: fc.constantFrom(`Bearer ${context.adminToken}x`, `Bearer ${context.adminToken.slice(1)}`, `Bearer ${context.adminToken.toUpperCase()}`, 'Bearer ', `Bearer ${'a'.repeat(10_000)}`) },
    { weight: 1, arbitrary: authorization },
  );
  const extraHeaders = fc.dictionary(
    fc.constantFrom('x-forwarded-for', 'x-request-id', 'atproto-proxy', 'atproto-accept-labelers', 'accept', 'accept-encoding', 'accept-language', 'cookie', 'origin', 'referer', 'user-agent', 'x-http-method-override', 'if-none-match', 'range'),
    nastyString,
    { maxKeys: 3 },
  );
  const extraQuery: fc.Arbitrary<Query> = fc.array(fc.tuple(fc.oneof(nastyString, fc.constantFrom('feed', 'limit', 'cursor', 'post', 'snapshot', '__proto__', 'constructor')), nastyString), { maxLength: 3 });
  const request = (route: string, method: string, path: string, query: Query, headers: Record<string, string | undefined>, body?: string, raw = false): FuzzRequest => ({
    route,
    method,
    path: path + queryText(query, raw),
    headers: Object.fromEntries(Object.entries(headers).filter((entry): entry is [string, string] => entry[1] !== undefined).map(([key, value]) => [key, headerSafe(value)])),
    ...(body !== undefined && { body }),
  });

  const interaction = fc.oneof(
    fc.record({
      item: postUri,
      event: fc.oneof(fc.constantFrom('app.bsky.feed.defs#requestLess', 'app.bsky.feed.defs#requestMore', 'app.bsky.feed.defs#interactionSeen', 'app.bsky.feed.defs#interactionLike', 'app.bsky.feed.defs#clickthroughItem', 'app.bsky.feed.defs#unknownEvent'), nastyString),
      feedContext: fc.option(fc.oneof(nastyString, fc.string({ minLength: 1990, maxLength: 2010 })), { nil: undefined }),
      reqId: fc.option(fc.oneof(nastyString, fc.string({ minLength: 95, maxLength: 105 })), { nil: undefined }),
    }),
    nastyJsonValue,
  );
  const interactionsBody = fc.oneof(
    { weight: 4, arbitrary: fc.record({ feed: fc.option(feed, { nil: undefined }), interactions: fc.array(interaction, { maxLength: 8 }) }).map((value) => JSON.stringify(value)) },
    { weight: 1, arbitrary: fc.tuple(fc.constantFrom(999, 1000, 1001, 5000), fc.constantFrom(...context.postUris)).map(([n, item]) => JSON.stringify({ interactions: Array.from({ length: n }, () => ({ item, event: 'app.bsky.feed.defs#interactionSeen' })) })) },
    { weight: 1, arbitrary: nastyJsonValue.map((value) => JSON.stringify(value) ?? 'null') },
    { weight: 1, arbitrary: fc.constantFrom('', '{', '{"interactions":', 'null', '[]', '"x"', '{"__proto__":{"interactions":[]}}', '{"constructor":{"prototype":{"polluted":1}},"interactions":[]}', deeplyNested(5_000, 'array'), deeplyNested(5_000, 'object')) },
    { weight: 1, arbitrary: nastyString },
  );
  const contentType = fc.oneof(
    { weight: 6, arbitrary: fc.constant('application/json') },
    { weight: 1, arbitrary: fc.constantFrom('text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/json; charset=utf-16', 'application/cbor', '', 'application/json, text/plain') },
    { weight: 1, arbitrary: nastyString },
  );
  // @NOTE Some bodies are plausible, so that edits get past validation and the registry is replaced under load.
  const plausibleCommunity = fc.record({
    name: fc.string({ minLength: 1, maxLength: 30 }),
    members: fc.record({ dids: fc.subarray(['did:plc:fuzzmember0000000000000000', 'did:plc:fuzzmember0000000000000001', 'did:plc:fuzzstranger000000000001']) }),
  });
  const plausibleFeed = fc.record({
    displayName: fc.string({ minLength: 1, maxLength: 24 }),
    communities: fc.subarray([...context.communities], { minLength: 1 }),
    ranking: fc.constantFrom('recent', 'bridging', 'bridging-within', 'balanced'),
    membersOnly: fc.boolean(),
    windowHours: fc.integer({ min: 1, max: 72 }),
  });
  const communityBody = fc.oneof(
    plausibleCommunity.map((value) => JSON.stringify(value)),
    fc.record(
      {
        name: nastyString,
        description: nastyString,
        members: fc.oneof(
          fc.record({ dids: fc.array(fc.oneof(fc.constant('did:plc:fuzzmember0000000000000000'), nastyString), { maxLength: 4 }) }, { requiredKeys: [] }),
          nastyJsonValue,
        ),
      },
      { requiredKeys: [] },
    ).map((value) => JSON.stringify(value)),
    interactionsBody,
  );
  const feedBody = fc.oneof(
    plausibleFeed.map((value) => JSON.stringify(value)),
    fc.record(
      {
        displayName: nastyString,
        description: nastyString,
        communities: fc.oneof(fc.array(communityId, { maxLength: 3 }), nastyJsonValue),
        ranking: fc.oneof(fc.constantFrom('recent', 'bridging', 'bridging-within', 'balanced'), nastyString),
        membersOnly: nastyJsonValue,
        includeReplies: nastyJsonValue,
        windowHours: fc.oneof(fc.constantFrom(...edgeNumbers), nastyJsonValue),
        halfLifeHours: fc.oneof(fc.constantFrom(...edgeNumbers), nastyJsonValue),
        balance: nastyJsonValue,
      },
      { requiredKeys: [] },
    ).map((value) => JSON.stringify(value)),
    interactionsBody,
  );
  const segment = (value: fc.Arbitrary<string>) => fc.tuple(value, fc.boolean()).map(([text, raw]) => (raw ? text.replace(/[/?#\s]/g, '') : enc(text)));
  const did = fc.oneof(fc.constantFrom('did:plc:fuzzmember0000000000000000', 'did:web:fuzz.localhost'), nastyString);
  const plausibleFund = fc.record(
    {
      budget: fc.integer({ min: 0, max: 10_000 }),
      matchingPool: fc.integer({ min: 0, max: 10_000 }),
      memberAllowance: fc.integer({ min: 0, max: 1_000 }),
      pageShare: fc.double({ min: 0, max: 1, noNaN: true }),
      minBridging: fc.double({ min: 0, max: 1, noNaN: true }),
      maxLift: fc.integer({ min: 0, max: 100 }),
      feeds: fc.subarray([...context.shortnames]),
    },
    { requiredKeys: [] },
  );
  const fundBody = fc.oneof(
    plausibleFund.map((value) => JSON.stringify(value)),
    fc.dictionary(fc.constantFrom('budget', 'matchingPool', 'memberAllowance', 'pageShare', 'minBridging', 'maxLift', 'feeds', 'community', '__proto__'), fc.oneof(fc.constantFrom(...edgeNumbers), nastyJsonValue), { maxKeys: 4 }).map((value) =>
      JSON.stringify(value),
    ),
    interactionsBody,
  );
  const pledgeBody = fc.oneof(
    fc.record({ pledger: did, community: communityId, post: postUri, amount: fc.oneof(fc.integer({ min: 1, max: 100 }), fc.constantFrom(...edgeNumbers)) }).map((value) => JSON.stringify(value)),
    fc.dictionary(fc.constantFrom('pledger', 'community', 'post', 'amount', 'rkey', 'timeUs'), nastyJsonValue, { maxKeys: 4 }).map((value) => JSON.stringify(value)),
    interactionsBody,
  );
  const epoch = fc.oneof(fc.constant('current'), fc.integer({ min: -5, max: 5_000 }).map(String), fc.constantFrom(...edgeNumbers).map(String), nastyString);
  const labelPattern = fc.oneof(fc.constantFrom('*', `at://${context.publisherDid}/*`, ...context.postUris), fc.constantFrom(...context.postUris).map((uri) => `${uri.slice(0, 20)}*`), nastyString);
  const param = (key: string, value: fc.Arbitrary<string>) => fc.option(value.map((text): [string, string] => [key, text]), { nil: undefined, freq: 3 });
  const present = (...entries: ([string, string] | undefined)[]): Query => entries.filter((entry): entry is [string, string] => entry !== undefined);

  const routes: fc.Arbitrary<FuzzRequest>[] = [
    fc.tuple(fc.option(feed, { nil: undefined }), fc.option(number, { nil: undefined, freq: 2 }), fc.option(cursor, { nil: undefined, freq: 2 }), extraQuery, fc.boolean(), authorization, extraHeaders).map(([f, limit, c, extra, raw, auth, headers]) =>
      request('getFeedSkeleton', 'GET', `/xrpc/${Nsid.getFeedSkeleton}`, [...(f === undefined ? [] : [['feed', f] as [string, string]]), ...(limit === undefined ? [] : [['limit', limit] as [string, string]]), ...(c === undefined ? [] : [['cursor', c] as [string, string]]), ...extra], { ...headers, authorization: auth }, undefined, raw),
    ),
    fc.tuple(extraQuery, authorization, extraHeaders).map(([query, auth, headers]) => request('describeFeedGenerator', 'GET', `/xrpc/${Nsid.describeFeedGenerator}`, query, { ...headers, authorization: auth })),
    fc.tuple(interactionsBody, contentType, authorization, extraQuery).map(([body, type, auth, query]) => request('sendInteractions', 'POST', `/xrpc/${Nsid.sendInteractions}`, query, { 'content-type': type, authorization: auth }, body)),
    fc.tuple(extraQuery, extraHeaders).map(([query, headers]) => request('did.json', 'GET', '/.well-known/did.json', query, headers)),
    fc.tuple(segment(shortname), fc.option(postUri, { nil: undefined }), fc.option(fc.oneof(cursor, number), { nil: undefined }), fc.option(adminAuthorization, { nil: undefined })).map(([name, post, snapshot, auth]) =>
      request('explain', 'GET', `/api/feeds/${name}/explain`, [...(post === undefined ? [] : [['post', post] as [string, string]]), ...(snapshot === undefined ? [] : [['snapshot', snapshot] as [string, string]])], { authorization: auth }),
    ),
    adminAuthorization.map((auth) => request('admin curation', 'GET', '/api/admin/curation', [], { authorization: auth })),
    fc.tuple(segment(communityId), adminAuthorization).map(([id, auth]) => request('admin members', 'GET', `/api/admin/communities/${id}/members`, [], { authorization: auth })),
    fc.tuple(segment(communityId), communityBody, contentType, adminAuthorization).map(([id, body, type, auth]) => request('admin put community', 'PUT', `/api/admin/communities/${id}`, [], { authorization: auth, 'content-type': type }, body)),
    fc.tuple(segment(fc.oneof(nastyString, fc.constant('fuzz-new'))), adminAuthorization).map(([id, auth]) => request('admin delete community', 'DELETE', `/api/admin/communities/${id}`, [], { authorization: auth })),
    fc.tuple(segment(fc.oneof(nastyString, fc.constant('fuzz-extra'))), feedBody, contentType, adminAuthorization).map(([name, body, type, auth]) => request('admin put feed', 'PUT', `/api/admin/feeds/${name}`, [], { authorization: auth, 'content-type': type }, body)),
    fc.tuple(segment(fc.oneof(nastyString, fc.constant('fuzz-extra'))), adminAuthorization).map(([name, auth]) => request('admin delete feed', 'DELETE', `/api/admin/feeds/${name}`, [], { authorization: auth })),
    fc.tuple(fc.array(labelPattern, { maxLength: 4 }), fc.array(fc.oneof(fc.constant(context.serviceDid), nastyString), { maxLength: 2 }), param('limit', number), param('cursor', fc.oneof(number, nastyString)), extraQuery, fc.boolean()).map(
      ([patterns, sources, limit, c, extra, raw]) =>
        request('queryLabels', 'GET', `/xrpc/${Nsid.queryLabels}`, [...patterns.map((value): [string, string] => ['uriPatterns', value]), ...sources.map((value): [string, string] => ['sources', value]), ...present(limit, c), ...extra], {}, undefined, raw),
    ),
    fc.tuple(segment(shortname), fc.boolean(), extraHeaders).map(([name, json, headers]) => request('conversation report', 'GET', json ? `/api/conversations/${name}` : `/conversations/${name}`, [], headers)),
    fc.tuple(segment(shortname), param('limit', number), extraQuery, fc.option(adminAuthorization, { nil: undefined })).map(([name, limit, extra, auth]) =>
      request('digest editions', 'GET', `/api/feeds/${name}/editions`, [...present(limit), ...extra], { authorization: auth }),
    ),
    fc.tuple(segment(shortname), extraHeaders).map(([name, headers]) => request('digest page', 'GET', `/digests/${name}`, [], headers)),
    fc.tuple(segment(communityId), segment(epoch)).map(([community, at]) => request('fund report', 'GET', `/api/funds/${community}/${at}`, [], {})),
    fc.tuple(fc.constantFrom('GET', 'PUT', 'DELETE'), segment(communityId), fundBody, contentType, adminAuthorization, fc.option(nastyString, { nil: undefined })).map(([method, community, body, type, auth, client]) =>
      method === 'GET'
        ? request('admin funds', 'GET', '/api/admin/funds', [], { authorization: auth })
        : request('admin funds', method, `/api/admin/funds/${community}`, [], { authorization: auth, 'content-type': type, 'x-cg-client': client }, method === 'PUT' ? body : undefined),
    ),
    fc.tuple(fc.boolean(), pledgeBody, contentType, segment(did), segment(fc.oneof(fc.constant('admin-fuzz1'), nastyString)), adminAuthorization).map(([record, body, type, pledger, rkey, auth]) =>
      record
        ? request('admin pledges', 'POST', '/api/admin/pledges', [], { authorization: auth, 'content-type': type }, body)
        : request('admin pledges', 'DELETE', `/api/admin/pledges/${pledger}/${rkey}`, [], { authorization: auth }),
    ),
    fc.tuple(fc.boolean(), param('limit', number), adminAuthorization).map(([history, limit, auth]) =>
      request('admin curation export', 'GET', history ? '/api/admin/curation/versions' : '/api/admin/curation/export', history ? present(limit) : [], { authorization: auth }),
    ),
    fc.tuple(fc.constantFrom('/notes', '/api/notes', '/api/notes/requests'), param('post', postUri), param('limit', number), extraQuery).map(([path, post, limit, extra]) =>
      request('notes', 'GET', path, [...present(path === '/api/notes/requests' ? limit : post), ...extra], {}),
    ),
    fc.tuple(fc.constantFrom('notes', 'labels', 'request'), fc.oneof(fc.record({ post: postUri }).map((value) => JSON.stringify(value)), interactionsBody), contentType, adminAuthorization).map(([what, body, type, auth]) =>
      what === 'request'
        ? request('admin notes and labels', 'POST', '/api/admin/notes/requests', [], { authorization: auth, 'content-type': type }, body)
        : request('admin notes and labels', 'GET', `/api/admin/console/${what}`, [], { authorization: auth }),
    ),
    fc.tuple(extraQuery, adminAuthorization).map(([query, auth]) => request('console overview', 'GET', '/api/admin/console/overview', query, { authorization: auth })),
    fc.tuple(segment(shortname), fc.option(number, { nil: undefined }), adminAuthorization).map(([name, limit, auth]) => request('console preview', 'GET', `/api/admin/feeds/${name}/preview`, limit === undefined ? [] : [['limit', limit]], { authorization: auth })),
    fc.tuple(fc.oneof(fc.constant(''), fc.constant('/assets/console.js'), segment(nastyString).map((name) => `/assets/${name}`)), extraQuery).map(([path, query]) => request('console page', 'GET', `/console${path}`, query, {})),
    fc.tuple(fc.oneof(segment(nastyString).map((name) => `/xrpc/${name}`), segment(nastyString).map((name) => `/${name}`), fc.constantFrom('/', '//', '/xrpc/', '/xrpc', '/api', '/api/admin', '/api/feeds//explain', '/%2e%2e/%2e%2e/etc/passwd', '/xrpc/app.bsky.feed.getFeedSkeleton/extra')), fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD')).map(([path, method]) =>
      request('unknown route', method, path, [], {}, method === 'GET' || method === 'HEAD' ? undefined : '{}'),
    ),
    fc.tuple(fc.constantFrom(`/xrpc/${Nsid.getFeedSkeleton}`, `/xrpc/${Nsid.describeFeedGenerator}`, '/.well-known/did.json', '/api/admin/curation', `/xrpc/${Nsid.sendInteractions}`), fc.constantFrom('POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'GET'), interactionsBody).map(([path, method, body]) =>
      request('wrong method', method, path, [], { 'content-type': 'application/json', authorization: `Bearer ${context.adminToken}` }, method === 'GET' ? undefined : body),
    ),
  ];
  return fc.oneof(...routes.map((arbitrary, index) => ({ weight: index === 0 || index === 2 ? 4 : index === 4 ? 2 : 1, arbitrary })));
}

/** `count` hostile requests over every route, reproducible from `seed` (fast-check). */
export function generateFuzzRequests(options: { seed: number; count: number; context: FuzzRequestContext }): FuzzRequest[] {
  return fc.sample(arbitraries(options.context), { seed: options.seed, numRuns: options.count });
}

/**
 * Request targets of WebSocket upgrades that `fetch` cannot send (it refuses the `Upgrade` header):
 * the server's upgrade listener reads them before any route does. Scheme-relative (`//`), with a
 * backslash, absolute-form, `*`, broken escapes, and the label stream's own path with a bad query.
 */
export const HOSTILE_UPGRADE_TARGETS = [
  '//',
  '/\\',
  '//xrpc/com.atproto.label.subscribeLabels',
  '/\\xrpc/com.atproto.label.subscribeLabels',
  'http://[::1',
  'http://127.0.0.1/xrpc/com.atproto.label.subscribeLabels',
  '*',
  '/%',
  '/xrpc/com.atproto.label.subscribeLabels?cursor=%ff%fe',
  '/xrpc/com.atproto.label.subscribeLabels?cursor=1e400',
] as const;

/** Sends each target as a raw WebSocket upgrade and waits for the server to answer or close (at most `waitMs` each). */
export async function sendHostileUpgrades(port: number, targets: readonly string[] = HOSTILE_UPGRADE_TARGETS, waitMs = 2_000): Promise<void> {
  for (const target of targets) {
    await new Promise<void>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.write(
          `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
            'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
        );
      });
      const done = () => {
        clearTimeout(timer);
        socket.destroy();
        resolve();
      };
      const timer = setTimeout(done, waitMs);
      socket.once('data', done);
      socket.once('close', done);
      socket.once('error', done);
    });
  }
}
