import { InvalidCurationError } from './curation.errors.js';
import { parseCuration } from './curation.loader.js';

const valid = `
communities:
  climate:
    name: Climate researchers
    members:
      dids: [did:plc:aaaaaaaaaaaaaaaaaaaaaaaa]
      lists: [at://did:plc:bbbbbbbbbbbbbbbbbbbbbbbb/app.bsky.graph.list/3kabc]
      hashtags: [Climate]
    allowSelfEnrolment: true
  farmers:
    members:
      followersOf: [did:plc:cccccccccccccccccccccccc]
    allowSelfEnrolment: true
feeds:
  common-ground:
    displayName: Common ground
    description: Posts liked in both communities
    communities: [climate, farmers]
    ranking: bridging
    membersOnly: true
`;

const problemsOf = (text: string) => {
  try {
    parseCuration(text, 'config/feeds.yaml');
    return [];
  } catch (error) {
    return (error as InvalidCurationError).problems.map((p) => `${p.file}:${p.line} ${p.field}: ${p.message}`);
  }
};

describe('curator files', () => {
  it('reads communities and feeds with defaults filled in', () => {
    const curation = parseCuration(valid, 'feeds.yaml');
    expect(curation.communities.get('climate')).toMatchObject({
      name: 'Climate researchers',
      members: { dids: ['did:plc:aaaaaaaaaaaaaaaaaaaaaaaa'], hashtags: ['climate'], handles: [] },
    });
    expect(curation.communities.get('farmers')).toMatchObject({ name: 'farmers', allowSelfEnrolment: true });
    expect(curation.feeds.get('common-ground')).toMatchObject({
      ranking: 'bridging',
      membersOnly: true,
      includeReplies: false,
      windowHours: 72,
      communities: ['climate', 'farmers'],
    });
  });

  it('names the file, line and field of every mistake', () => {
    const broken = valid
      .replace('ranking: bridging', 'ranking: loudest')
      .replace('did:plc:aaaaaaaaaaaaaaaaaaaaaaaa', 'alice')
      .replace('[climate, farmers]', '[climate, fishers]');
    let error: InvalidCurationError | undefined;
    try {
      parseCuration(broken, 'config/feeds.yaml');
    } catch (caught) {
      error = caught as InvalidCurationError;
    }
    expect(error).toBeInstanceOf(InvalidCurationError);
    const found = error!.problems.map((p) => `${p.line} ${p.field}`);
    expect(found).toEqual(
      expect.arrayContaining(['6 communities.climate.members.dids.0', '18 feeds.common-ground.communities.1', '19 feeds.common-ground.ranking']),
    );
    expect(error!.message).toContain('config/feeds.yaml:19:');
  });

  describe('members-only feeds over communities anyone can join', () => {
    it.each([
      ['hashtags', 'climate', 'hashtags'],
      ['followersOf', 'farmers', 'followersOf'],
    ])('refuses membersOnly over a community with %s, naming the feed line and field', (_source, community, named) => {
      const text = valid.replace(/ {4}allowSelfEnrolment: true\n/g, '').replace('[climate, farmers]', `[${community}]`);
      const problems = problemsOf(text);
      expect(problems).toHaveLength(1);
      expect(problems[0]).toMatch(new RegExp(`^config/feeds\\.yaml:\\d+ feeds\\.common-ground\\.membersOnly: community "${community}" lets anyone join \\(${named}\\)`));
      const line = Number(/:(\d+) /.exec(problems[0]!)![1]);
      expect(text.split('\n')[line - 1]).toBe('    membersOnly: true');
    });

    it('accepts it when the community allows self-enrolment, and a public feed over such a community always', () => {
      expect(problemsOf(valid)).toEqual([]);
      const withoutConsent = valid.replace(/ {4}allowSelfEnrolment: true\n/g, '');
      expect(problemsOf(withoutConsent.replace('    membersOnly: true\n', ''))).toEqual([]);
      expect(problemsOf(withoutConsent)).toHaveLength(2);
    });

    it('accepts it over communities defined by DIDs, handles, lists and starter packs', () => {
      const closed = `
communities:
  club:
    members:
      dids: [did:plc:aaaaaaaaaaaaaaaaaaaaaaaa]
      handles: [someone.example.com]
      lists: [at://did:plc:bbbbbbbbbbbbbbbbbbbbbbbb/app.bsky.graph.list/3kabc]
      starterPacks: [at://did:plc:bbbbbbbbbbbbbbbbbbbbbbbb/app.bsky.graph.starterpack/3kdef]
feeds:
  club-only:
    displayName: Club
    communities: [club]
    membersOnly: true
`;
      expect(problemsOf(closed)).toEqual([]);
      expect(parseCuration(closed, 'f.yaml').communities.get('club')!.allowSelfEnrolment).toBe(false);
    });

    it('rejects an allowSelfEnrolment that is not true or false', () => {
      expect(problemsOf(valid.replace('allowSelfEnrolment: true', 'allowSelfEnrolment: sure'))).toContainEqual(
        expect.stringContaining('communities.climate.allowSelfEnrolment: expected true or false'),
      );
    });
  });

  it('reports a YAML syntax error with its line', () => {
    expect(() => parseCuration('feeds:\n  a: [unclosed\n', 'x.yaml')).toThrow(/x\.yaml:\d+:\d+ \(syntax\)/);
  });

  it('rejects a display name over 24 graphemes, as the generator record allows no more', () => {
    expect(() => parseCuration(valid.replace('Common ground', 'A'.repeat(25)), 'f.yaml')).toThrow(/displayName: longer than 24/);
  });

  describe('label rules per feed', () => {
    const withRules = (rules: string) => valid.replace('    membersOnly: true\n', `    membersOnly: true\n${rules}`);

    it('reads exclude and downrank', () => {
      const feed = parseCuration(withRules('    exclude: [spam, bot]\n    downrank:\n      labels: [rude]\n      factor: 0.25\n'), 'f.yaml').feeds.get('common-ground');
      expect(feed?.labels).toEqual({ exclude: ['spam', 'bot'], downrank: { labels: ['rude'], factor: 0.25 } });
      expect(parseCuration(valid, 'f.yaml').feeds.get('common-ground')?.labels).toBeUndefined();
    });

    it('reports a bad value and a bad factor at their fields', () => {
      const problems = problemsOf(withRules('    exclude: [Spam!]\n    downrank:\n      labels: [rude]\n      factor: 2\n'));
      expect(problems).toContainEqual(expect.stringContaining('feeds.common-ground.exclude.0: expected a label value'));
      expect(problems).toContainEqual(expect.stringContaining('feeds.common-ground.downrank.factor: expected a factor below 1'));
    });
  });
});
