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
  farmers:
    members:
      followersOf: [did:plc:cccccccccccccccccccccccc]
feeds:
  common-ground:
    displayName: Common ground
    description: Posts liked in both communities
    communities: [climate, farmers]
    ranking: bridging
    membersOnly: true
`;

describe('curator files', () => {
  it('reads communities and feeds with defaults filled in', () => {
    const curation = parseCuration(valid, 'feeds.yaml');
    expect(curation.communities.get('climate')).toMatchObject({
      name: 'Climate researchers',
      members: { dids: ['did:plc:aaaaaaaaaaaaaaaaaaaaaaaa'], hashtags: ['climate'], handles: [] },
    });
    expect(curation.communities.get('farmers')!.name).toBe('farmers');
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
      expect.arrayContaining(['6 communities.climate.members.dids.0', '16 feeds.common-ground.communities.1', '17 feeds.common-ground.ranking']),
    );
    expect(error!.message).toContain('config/feeds.yaml:17:');
  });

  it('reports a YAML syntax error with its line', () => {
    expect(() => parseCuration('feeds:\n  a: [unclosed\n', 'x.yaml')).toThrow(/x\.yaml:\d+:\d+ \(syntax\)/);
  });

  it('rejects a display name over 24 graphemes, as the generator record allows no more', () => {
    expect(() => parseCuration(valid.replace('Common ground', 'A'.repeat(25)), 'f.yaml')).toThrow(/displayName: longer than 24/);
  });
});
