import { parseCuration } from './curation.loader.js';
import { labelledCommunities } from './labelled-communities.js';

describe('the communities the labeler record names', () => {
  it('leaves out a community that only members-only feeds use: its name stays inside them', () => {
    const curation = parseCuration(
      [
        'communities:',
        '  left: { members: { dids: [did:plc:aaaaaaaaaaaaaaaaaaaaaaaa] } }',
        '  right: { members: { dids: [did:plc:bbbbbbbbbbbbbbbbbbbbbbbb] } }',
        '  circle: { name: Our private circle, members: { dids: [did:plc:cccccccccccccccccccccccc] } }',
        '  planned: { members: { dids: [did:plc:dddddddddddddddddddddddd] } }',
        'feeds:',
        '  across: { displayName: Across, communities: [left, right], ranking: bridging }',
        '  inside: { displayName: Inside, communities: [circle, left], ranking: bridging, membersOnly: true }',
      ].join('\n'),
      'feeds.yaml',
    );
    // `left` is also in a public feed; `planned` is in no feed yet.
    expect(labelledCommunities(curation).map((community) => community.id)).toEqual(['left', 'right', 'planned']);
  });
});
