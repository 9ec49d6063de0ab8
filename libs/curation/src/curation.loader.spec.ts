import { InvalidCurationError } from './curation.errors.js';
import { parseCuration } from './curation.loader.js';
import { MAX_WINDOW_HOURS } from './curation.schema.js';

const valid = `
communities:
  climate:
    name: Climate researchers
    members:
      dids: [did:plc:aaaaaaaaaaaaaaaaaaaaaaaa]
      lists: [at://did:plc:bbbbbbbbbbbbbbbbbbbbbbbb/app.bsky.graph.list/3kabc]
      hashtags: [Climate, "Cafe\u0301"]
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
      members: { dids: ['did:plc:aaaaaaaaaaaaaaaaaaaaaaaa'], hashtags: ['climate', 'café'], handles: [] },
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

  it('rejects text within its graphemes but over the UTF-8 bytes of the records it goes into, naming the field', () => {
    // One grapheme of 25 bytes: 24 of them are 600 bytes, where a generator record's displayName holds 240.
    const family = '👩‍👩‍👧‍👦';
    expect(problemsOf(valid.replace('Common ground', family.repeat(24)))).toEqual([expect.stringMatching(/^config\/feeds\.yaml:16 feeds\.common-ground\.displayName: longer than 240 bytes/)]);
    expect(problemsOf(valid.replace('Posts liked in both communities', family.repeat(121)))).toEqual([expect.stringMatching(/:17 feeds\.common-ground\.description: longer than 3000 bytes/)]);
    // A community's name goes into its label values' names (640 bytes at most).
    expect(problemsOf(valid.replace('Climate researchers', family.repeat(26)))).toEqual([expect.stringMatching(/:4 communities\.climate\.name: longer than 640 bytes/)]);
    expect(problemsOf(valid.replace('Common ground', family.repeat(9)))).toEqual([]);
  });

  describe('digest feeds', () => {
    const digestFeed = (section: string) => `${valid}  weekly:
    displayName: The week
    communities: [climate, farmers]
    ranking: digest
${section}`;
    const problemsOf = (text: string) => {
      try {
        parseCuration(text, 'f.yaml');
        return [];
      } catch (error) {
        return (error as InvalidCurationError).problems.map((p) => `${p.line} ${p.field}: ${p.message}`);
      }
    };

    it('reads cadence, size, base and end card, with defaults for the time of day, the zone, the size and the base', () => {
      const curation = parseCuration(digestFeed('    digest:\n      cadence: weekly\n      day: monday\n'), 'f.yaml');
      expect(curation.feeds.get('weekly')!.digest).toEqual({ cadence: 'weekly', day: 'monday', at: '08:00', timeZone: 'UTC', size: 20, base: 'bridging' });
      const full = parseCuration(
        digestFeed(
          '    digest:\n      cadence: daily\n      at: "18:30"\n      timeZone: Europe/Paris\n      size: 10\n      base: balanced\n      endCard: at://did:plc:aaaaaaaaaaaaaaaaaaaaaaaa/app.bsky.feed.post/3kcard\n',
        ),
        'f.yaml',
      );
      expect(full.feeds.get('weekly')!.digest).toMatchObject({ at: '18:30', timeZone: 'Europe/Paris', size: 10, base: 'balanced' });
    });

    it('ranks the posts of a whole period for an edition unless the curator says otherwise: a weekly one the week, a daily one three days', () => {
      const timescales = (section: string) => {
        const { windowHours, halfLifeHours } = parseCuration(digestFeed(section), 'f.yaml').feeds.get('weekly')!;
        return { windowHours, halfLifeHours };
      };
      expect(timescales('    digest:\n      cadence: weekly\n      day: monday\n')).toEqual({ windowHours: 168, halfLifeHours: 84 });
      expect(timescales('    digest:\n      cadence: daily\n')).toEqual({ windowHours: 72, halfLifeHours: 12 });
      expect(timescales('    windowHours: 240\n    halfLifeHours: 24\n    digest:\n      cadence: weekly\n      day: monday\n')).toEqual({ windowHours: 240, halfLifeHours: 24 });
      expect(parseCuration(valid, 'feeds.yaml').feeds.get('common-ground')).toMatchObject({ windowHours: 72, halfLifeHours: 12 });
      // Which of them the curation leaves to the default, for editors that must not write it in.
      expect(parseCuration(digestFeed('    windowHours: 240\n    digest:\n      cadence: daily\n'), 'f.yaml').feeds.get('weekly')!.defaulted).toEqual(['halfLifeHours']);
      expect(parseCuration(digestFeed('    windowHours: 240\n    halfLifeHours: 24\n    digest:\n      cadence: daily\n'), 'f.yaml').feeds.get('weekly')!.defaulted).toBeUndefined();
    });

    it('names the line and field of each mistake in the digest section', () => {
      const problems = problemsOf(
        digestFeed('    digest:\n      cadence: weekly\n      at: "25:00"\n      timeZone: Mars/Olympus\n      size: 0\n      base: recent\n      colour: blue\n'),
      );
      expect(problems).toEqual(
        expect.arrayContaining([
          expect.stringMatching(/^\d+ feeds\.weekly\.digest\.at: expected a time of day/),
          expect.stringMatching(/^\d+ feeds\.weekly\.digest\.timeZone: expected an IANA time zone/),
          expect.stringMatching(/^\d+ feeds\.weekly\.digest\.size: /),
          expect.stringMatching(/^\d+ feeds\.weekly\.digest\.base: /),
          expect.stringMatching(/feeds\.weekly\.digest\.colour: unknown field/),
        ]),
      );
      expect(problemsOf(digestFeed('    digest:\n      cadence: weekly\n'))).toEqual([expect.stringContaining('feeds.weekly.digest.day: a weekly digest needs a day')]);
    });

    it('requires the digest section on a digest feed and refuses it on any other', () => {
      expect(problemsOf(digestFeed(''))).toEqual([expect.stringContaining('feeds.weekly.digest: a digest feed needs a digest section')]);
      expect(problemsOf(digestFeed('    digest:\n      cadence: daily\n').replace('ranking: digest', 'ranking: bridging'))).toEqual([
        expect.stringContaining('only a feed with ranking: digest has a digest section'),
      ]);
    });
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

  describe('ids are definitions, named once', () => {
    // `constructor` is the one property every plain object inherits that is also a valid id.
    it('refuses a feed over "constructor", which no curator defined, members-only or not', () => {
      const named = valid.replace('[climate, farmers]', '[climate, constructor]');
      expect(problemsOf(named.replace('    membersOnly: true\n', ''))).toEqual(['config/feeds.yaml:18 feeds.common-ground.communities.1: no community "constructor" is defined']);
      expect(problemsOf(named)).toEqual(['config/feeds.yaml:18 feeds.common-ground.communities.1: no community "constructor" is defined']);
    });

    it('refuses two communities whose ids become one label token, naming both', () => {
      const twins = valid.replace('  farmers:\n', '  ward_7:\n    members: { dids: [did:plc:dddddddddddddddddddddddd] }\n  ward7:\n    members: { dids: [did:plc:eeeeeeeeeeeeeeeeeeeeeeee] }\n  farmers:\n');
      expect(problemsOf(twins)).toEqual([
        'config/feeds.yaml:13 communities.ward7: communities "ward_7" and "ward7" both become the label token "ward-seven" (supported-by-ward-seven, …): rename one',
      ]);
      expect(problemsOf(twins.replace('  ward7:\n', '  ward8:\n'))).toEqual([]);
    });

    it('refuses a community named twice in a feed, at the second mention', () => {
      expect(problemsOf(valid.replace('[climate, farmers]', '[climate, farmers, climate]'))).toEqual([
        'config/feeds.yaml:18 feeds.common-ground.communities.2: "climate" is named twice',
      ]);
    });
  });

  describe('windows', () => {
    const withWindow = (hours: string) => valid.replace('    membersOnly: true\n', `    membersOnly: true\n    windowHours: ${hours}\n`);

    it(`accepts a window up to ${MAX_WINDOW_HOURS} hours (31 days) and refuses a longer one`, () => {
      expect(parseCuration(withWindow(String(MAX_WINDOW_HOURS)), 'f.yaml').feeds.get('common-ground')!.windowHours).toBe(744);
      expect(problemsOf(withWindow('745'))).toEqual(['config/feeds.yaml:21 feeds.common-ground.windowHours: at most 744 hours (31 days)']);
      // A billion hours would ask the ranker for posts since before 1970: a negative UInt64.
      expect(problemsOf(withWindow('1e9'))).toEqual([expect.stringContaining('windowHours: at most 744 hours')]);
      expect(problemsOf(withWindow('0'))).toEqual([expect.stringContaining('windowHours: expected a positive number')]);
    });
  });

  describe('balance', () => {
    const withBalance = (balance: string) => valid.replace('ranking: bridging', `ranking: balanced\n    balance: ${balance}`);

    it('takes equal, or shares of the sides that exist', () => {
      expect(parseCuration(withBalance('equal'), 'f.yaml').feeds.get('common-ground')!.balance).toBe('equal');
      expect(parseCuration(withBalance('{ positive: 2, negative: 1 }'), 'f.yaml').feeds.get('common-ground')!.balance).toEqual({ positive: 2, negative: 1 });
      expect(parseCuration(withBalance('{ negative: 1 }'), 'f.yaml').feeds.get('common-ground')!.balance).toEqual({ negative: 1 });
    });

    it('refuses names of sides that do not exist, and a mapping with no side, which would turn balancing off', () => {
      expect(problemsOf(withBalance('{ left: 2, right: 1 }'))).toEqual([
        'config/feeds.yaml:20 feeds.common-ground.balance.left: unknown side (known: positive, negative)',
        'config/feeds.yaml:20 feeds.common-ground.balance.right: unknown side (known: positive, negative)',
      ]);
      expect(problemsOf(withBalance('{}'))).toEqual(['config/feeds.yaml:20 feeds.common-ground.balance: name the share of positive or negative, or write equal']);
    });
  });

  it('reports aliases that expand past the parser\'s limit as a mistake in the file', () => {
    const levels = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
    for (const name of 'bcdefg') levels.push(`${name}: &${name} [${Array(10).fill(`*${levels.length === 1 ? 'a' : String.fromCharCode(name.charCodeAt(0) - 1)}`).join(', ')}]`);
    expect(problemsOf(`${levels.join('\n')}\n`)).toEqual([expect.stringMatching(/^config\/feeds\.yaml:0 \(document\): could not be checked: Excessive alias count/)]);
  });
});

describe('Bridge Funds in the curator file', () => {
  const withFunds = `${valid}funds:
  climate:
    budget: 1000
    matchingPool: 400
    feeds: [common-ground]
  farmers:
    budget: 500
`;

  it('reads a fund per community with defaults filled in', () => {
    const { funds } = parseCuration(withFunds, 'feeds.yaml');
    expect(funds.get('climate')).toEqual({
      community: 'climate',
      budget: 1000,
      matchingPool: 400,
      memberAllowance: 100,
      pageShare: 0.2,
      minBridging: 0.5,
      maxLift: 1,
      feeds: ['common-ground'],
    });
    expect(funds.get('farmers')).toMatchObject({ budget: 500, matchingPool: 0, feeds: [] });
    expect(parseCuration(valid, 'feeds.yaml').funds.size).toBe(0);
  });

  it('names the line and field of each mistake in a fund', () => {
    const broken = withFunds.replace('matchingPool: 400', 'matchingPool: -4\n    pageShare: 2\n    loud: true').replace('  farmers:\n    budget: 500', '  fishers:\n    budget: 500');
    let error: InvalidCurationError | undefined;
    try {
      parseCuration(broken, 'feeds.yaml');
    } catch (caught) {
      error = caught as InvalidCurationError;
    }
    const lineOf = (field: string) => broken.split('\n')[error!.problems.find((p) => p.field === field)!.line - 1]!.trim();
    expect(lineOf('funds.climate.matchingPool')).toBe('matchingPool: -4');
    expect(lineOf('funds.climate.pageShare')).toBe('pageShare: 2');
    expect(error!.problems.find((p) => p.field === 'funds.climate.loud')!.message).toContain('unknown field');
    expect(lineOf('funds.fishers')).toBe('budget: 500');
    expect(() => parseCuration(withFunds.replace('feeds: [common-ground]', 'feeds: [elsewhere]'), 'feeds.yaml')).toThrow('no feed "elsewhere" over community "climate"');
  });

  it('refuses a fund of, or boosting in, something only inherited (constructor), and a feed named twice', () => {
    expect(problemsOf(withFunds.replace('feeds: [common-ground]', 'feeds: [constructor]'))).toEqual([
      'config/feeds.yaml:25 funds.climate.feeds.0: no feed "constructor" over community "climate"',
    ]);
    expect(problemsOf(withFunds.replace('  farmers:\n    budget: 500', '  constructor:\n    budget: 500'))).toEqual([
      'config/feeds.yaml:27 funds.constructor: no community "constructor" is defined',
    ]);
    expect(problemsOf(withFunds.replace('feeds: [common-ground]', 'feeds: [common-ground, common-ground]'))).toEqual([
      'config/feeds.yaml:25 funds.climate.feeds.1: "common-ground" is named twice',
    ]);
  });
});
