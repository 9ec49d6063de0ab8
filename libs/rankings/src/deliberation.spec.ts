import { runSteps } from '#lib/steps';
import { rankDeliberation } from './deliberation.js';
import { campA, campB, feedOf, inputOf, post, signals, twoCamps } from './ranking.fixtures.js';
import type { PostSignal } from './ranking.js';

const conversationFeed = (participants: 'anyone' | 'members' = 'anyone') =>
  feedOf({ ranking: 'deliberation', communities: ['town'], deliberation: { hashtag: 'town', participants } });

/** The votes of `twoCamps` and five statements more: one both camps agree with, one each, one everyone passes on, one everyone rejects; and one with no vote. */
function conversation() {
  const camps = twoCamps();
  const more = ['m1', 'm2', 'm3', 'm4', 'm5'].map((name) => post(name));
  const all: PostSignal[] = [
    ...camps.signals,
    ...signals(more[0]!, [...campA, ...campB], 'like'),
    ...signals(more[1]!, campA, 'like'),
    ...signals(more[1]!, campB, 'requestLess'),
    ...signals(more[2]!, campB, 'like'),
    ...signals(more[2]!, campA, 'requestLess'),
    ...signals(more[3]!, [...campA, ...campB], 'interactionSeen'),
    ...signals(more[4]!, [...campA, ...campB], 'requestLess'),
  ];
  const fresh = post('fresh');
  return { ...camps, more, fresh, candidates: [...camps.candidates, ...more, fresh], signals: all };
}

describe('deliberation', () => {
  const talk = conversation();
  const result = runSteps(rankDeliberation(inputOf(conversationFeed(), talk.candidates, talk.signals, { town: [...campA, ...campB] })));
  const report = result.report!;

  it('routes a statement nobody voted on first, and divisive statements before agreed ones with as many votes', () => {
    expect(result.posts[0]!.uri).toBe(talk.fresh.uri);
    const rank = (uri: string) => result.posts.findIndex((p) => p.uri === uri);
    expect(rank(talk.partisanA[0]!.uri)).toBeLessThan(rank(talk.bridge.uri));
    expect(result.posts[0]!.components).toMatchObject({ ranking: 'deliberation', votes: 0 });
  });

  it('reports the two camps as opinion groups, what they agree on, what divides them and who stands for what', () => {
    expect(report.groups.map((g) => g.size)).toEqual([6, 6]);
    expect(report.participants).toBe(12);
    expect(report.statements).toBe(14);
    expect(report.consensus.slice(0, 2).map((s) => s.uri).sort()).toEqual([talk.bridge.uri, talk.more[0]!.uri].sort());
    expect(report.consensus[0]!.agree).toBe(12);
    const divisive = report.divisive[0]!;
    expect([...talk.partisanA, ...talk.partisanB, talk.more[1], talk.more[2]].map((p) => p!.uri)).toContain(divisive.uri);
    expect(divisive.spread).toBeGreaterThan(0.6);
    expect(divisive.groups[divisive.agreeingGroup]!.agree).toBe(6);
    for (const { statements } of report.representative) {
      expect(statements.length).toBeGreaterThan(0);
      expect(statements[0]!.spread).toBeGreaterThan(0.6);
    }
    expect(report.thin).toEqual([{ uri: talk.fresh.uri, votes: 0 }]);
    expect(report.votes).toEqual({ agree: 12 + 18 + 18 + 6 + 12 + 6 + 6, disagree: 18 + 18 + 6 + 6 + 12, pass: 6 + 12 });
  });

  it('lists as consensus only what more people agree with than reject, and as divisive only what one group agrees with and another rejects', () => {
    const [both, onlyA, onlyB, passed, rejected] = talk.more.map((p) => p.uri);
    const consensus = report.consensus.map((s) => s.uri);
    const divisive = report.divisive.map((s) => s.uri);
    // Ranked alone, the rejected statement and the even splits came after the agreed ones in both
    // lists. One camp agreeing while the other passes is agreement, ranked below both camps'.
    expect(consensus.slice(0, 2).sort()).toEqual([talk.bridge.uri, both].sort());
    expect(consensus.slice(2)).toEqual([talk.onlyA.uri]);
    expect(divisive).toEqual(expect.arrayContaining([onlyA, onlyB, ...talk.partisanA.map((p) => p.uri)]));
    for (const uri of [talk.bridge.uri, both, passed, rejected]) expect(divisive).not.toContain(uri);
    for (const statement of report.divisive) expect(statement.groups[statement.agreeingGroup]!.agree).toBe(6);
  });

  it('reports what everyone agrees on when everyone votes alike and no opinion groups are found', () => {
    const voters = [...campA, ...campB];
    const statements = ['u1', 'u2', 'u3'].map((name) => post(name));
    const votes = [...signals(statements[0]!, voters, 'like'), ...signals(statements[1]!, voters, 'like'), ...signals(statements[2]!, voters, 'requestLess')];
    const unanimous = runSteps(rankDeliberation(inputOf(conversationFeed(), statements, votes, { town: voters }))).report!;
    expect(unanimous.groups).toEqual([]);
    expect(unanimous.consensus.map((statement) => statement.uri).sort()).toEqual([statements[0]!.uri, statements[1]!.uri].sort());
    expect(unanimous.consensus[0]!.consensus).toBeCloseTo((voters.length + 1) / (voters.length + 2));
  });

  it('counts participation over time', () => {
    expect(report.participation.reduce((sum, point) => sum + point.votes, 0)).toBe(report.votes.agree + report.votes.disagree + report.votes.pass);
    expect(report.participation.at(-1)!.participants).toBe(12);
  });

  it('dates a vote when it was given, not when the statement was seen again after it', () => {
    const later = 30 * 3_600_000_000;
    const seenAgain = talk.signals.filter((signal) => signal.kind === 'like').map((signal) => ({ ...signal, kind: 'interactionSeen', timeUs: signal.timeUs + later }));
    const again = runSteps(rankDeliberation(inputOf(conversationFeed(), talk.candidates, [...talk.signals, ...seenAgain], { town: [...campA, ...campB] }))).report!;
    expect(again.participation).toEqual(report.participation);
  });

  it('counts only members’ votes when the conversation is for members', () => {
    const members = runSteps(rankDeliberation(inputOf(conversationFeed('members'), talk.candidates, talk.signals, { town: campA }))).report!;
    expect(members.participants).toBe(6);
    expect(members.groups).toEqual([]);
    // One camp finds no groups: what its members agree on is the consensus, on their votes alone.
    expect(members.consensus.length).toBeGreaterThan(0);
    for (const statement of members.consensus) expect(statement.votes <= 6 && statement.agree > statement.disagree).toBe(true);
  });
});
