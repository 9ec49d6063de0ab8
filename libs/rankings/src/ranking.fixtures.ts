import type { FeedDefinition } from '#lib/curation';
import type { CandidatePost, PostSignal, RankingInput } from './ranking.js';

/** Test tables for the ranking specs: two camps of six members, posts one or both camps approve. */
const NOW_MS = Date.UTC(2026, 11, 1, 12);
const HOUR_US = 3_600_000_000;

export function feedOf(overrides: Partial<FeedDefinition>): FeedDefinition {
  return {
    shortname: 'test',
    displayName: 'Test',
    description: '',
    communities: ['a', 'b'],
    ranking: 'bridging',
    includeReplies: false,
    windowHours: 72,
    halfLifeHours: 24,
    membersOnly: false,
    balance: 'equal',
    ...overrides,
  };
}

export const campA = ['a1', 'a2', 'a3', 'a4', 'a5', 'a6'].map((n) => `did:plc:${n}`);
export const campB = ['b1', 'b2', 'b3', 'b4', 'b5', 'b6'].map((n) => `did:plc:${n}`);

export function post(name: string, hoursAgo = 1): CandidatePost {
  return { uri: `at://did:plc:author/app.bsky.feed.post/${name}`, cid: `cid-${name}`, author: 'did:plc:author', timeUs: NOW_MS * 1000 - hoursAgo * HOUR_US };
}

/** `kind` from each actor on the post (seen first, so exposure is observed). */
export function signals(target: CandidatePost, actors: readonly string[], kind: string): PostSignal[] {
  return actors.flatMap((actor) => [
    { actor, uri: target.uri, kind: 'interactionSeen', timeUs: target.timeUs + 1 },
    { actor, uri: target.uri, kind, timeUs: target.timeUs + 2 },
  ]);
}

export function inputOf(feed: FeedDefinition, candidates: CandidatePost[], all: PostSignal[], members: Record<string, readonly string[]>): RankingInput {
  return {
    feed,
    members: new Map(Object.entries(members).map(([id, dids]) => [id, new Set(dids)])),
    candidates,
    signals: all,
    nowMs: NOW_MS,
  };
}

/**
 * Two camps: `bridge` liked by both; three partisan posts per camp, liked by it and asked "less" of
 * by the other; `onlyA` liked by camp A and merely seen by camp B.
 */
export function twoCamps() {
  const bridge = post('bridge');
  const partisanA = [post('pa1'), post('pa2'), post('pa3')];
  const partisanB = [post('pb1'), post('pb2'), post('pb3')];
  const onlyA = post('only-a');
  const all: PostSignal[] = [
    ...signals(bridge, [...campA, ...campB], 'like'),
    ...partisanA.flatMap((p) => [...signals(p, campA, 'like'), ...signals(p, campB, 'requestLess')]),
    ...partisanB.flatMap((p) => [...signals(p, campB, 'like'), ...signals(p, campA, 'requestLess')]),
    ...signals(onlyA, campA, 'like'),
    ...campB.map((actor) => ({ actor, uri: onlyA.uri, kind: 'interactionSeen', timeUs: onlyA.timeUs + 1 })),
  ];
  return { bridge, partisanA, partisanB, onlyA, candidates: [bridge, ...partisanA, ...partisanB, onlyA], signals: all };
}
