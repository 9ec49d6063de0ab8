import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { MAX_TIME_US, PipelineEventSchema } from '#lib/contracts';
import { generateJetstreamEvents } from '#lib/testing';
import { atUri, parseAtUri } from './at-uri.js';
import { normaliseTag } from './hashtag.js';
import { isJetstreamTimeUs, mapJetstreamEvent, MAX_TIME_US_AHEAD, parseDateMs, wantedCollections, type MappedEvent } from './jetstream-mapping.js';
import { Nsid } from './nsid.js';

const alice = 'did:plc:ewvi7nxzyoun6zhxrhs64oiz';
const bob = 'did:plc:z72i7hdynmk6r22z27h6tvur';
const carol = 'did:web:carol.example.com';
const timeUs = 1_732_000_000_123_456;
const postCid = 'bafyreibjifzpqj6o6wcq3hejh7y4z4z2vmiklkvykc57tw3pcbx3kxifpm';
const rootUri = atUri(bob, Nsid.post, '3lbgbdrc2h22k');
const rootCid = 'bafyreihuifbbiprwmlocqfx3nkhmd3d5nmazqdkkojxzjzxd64n3gxvwvy';
const parentUri = atUri(carol, Nsid.post, '3lbgbe5xjkk2s');
const parentCid = 'bafyreigdmqpykrgxyaxtlafqpqhzrb7qy2rh75nldvfd4tucqmqqme5yje';

function commit(collection: string, operation: string, record?: unknown, extra: Record<string, unknown> = {}): unknown {
  return {
    did: alice,
    time_us: timeUs,
    kind: 'commit',
    commit: {
      rev: '3lbgbf3tqxs2x',
      operation,
      collection,
      rkey: '3lbgbf3pgps2x',
      ...(record === undefined ? {} : { record, cid: postCid }),
      ...extra,
    },
  };
}

function event(mapped: MappedEvent): unknown {
  if (mapped.kind !== 'event') throw new Error(`expected an event, got ${mapped.kind}: ${mapped.reason}`);
  return mapped.event;
}

// Built the way the Bluesky app writes it: UTF-8 byte offsets, a tag facet for the inline tag.
const text = 'Städte für alle 🚲 @bob.bsky.social reads https://example.org/x #Urbanism #cycling!';
const byteRange = (needle: string): { byteStart: number; byteEnd: number } => {
  const start = Buffer.byteLength(text.slice(0, text.indexOf(needle)));
  return { byteStart: start, byteEnd: start + Buffer.byteLength(needle) };
};
const richPost = {
  $type: 'app.bsky.feed.post',
  text,
  langs: ['de', 'en'],
  facets: [
    { index: byteRange('@bob.bsky.social'), features: [{ $type: 'app.bsky.richtext.facet#mention', did: bob }] },
    { index: byteRange('https://example.org/x'), features: [{ $type: 'app.bsky.richtext.facet#link', uri: 'https://example.org/x' }] },
    { index: byteRange('#Urbanism'), features: [{ $type: 'app.bsky.richtext.facet#tag', tag: 'Urbanism' }] },
  ],
  reply: { root: { uri: rootUri, cid: rootCid }, parent: { uri: parentUri, cid: parentCid } },
  embed: {
    $type: 'app.bsky.embed.recordWithMedia',
    record: { $type: 'app.bsky.embed.record', record: { uri: rootUri, cid: rootCid } },
    media: {
      $type: 'app.bsky.embed.images',
      images: [
        {
          alt: 'A protected bike lane',
          image: {
            $type: 'blob',
            ref: { $link: 'bafkreiaxnxqxn6j5jtxpsuhcypgajwqe5fryrqhbb2tecypd3fchqgcs3e' },
            mimeType: 'image/jpeg',
            size: 412_345,
          },
          aspectRatio: { width: 2000, height: 1500 },
        },
      ],
    },
  },
  createdAt: '2024-11-19T07:06:40.000Z',
};

describe('mapJetstreamEvent: posts', () => {
  it('maps a reply that quotes a post with images, with its tags, langs and client createdAt', () => {
    expect(event(mapJetstreamEvent(commit(Nsid.post, 'create', richPost)))).toEqual({
      v: 1,
      type: 'post',
      op: 'create',
      did: alice,
      timeUs,
      rkey: '3lbgbf3pgps2x',
      cid: postCid,
      createdAtMs: Date.parse('2024-11-19T07:06:40.000Z'),
      text,
      langs: ['de', 'en'],
      tags: ['urbanism', 'cycling'],
      replyRoot: rootUri,
      replyParent: parentUri,
      quote: rootUri,
      hasMedia: true,
    });
  });

  it('collects inline tags without facets, the record-level tags, and drops all-digit tags and trailing punctuation', () => {
    const post = {
      $type: 'app.bsky.feed.post',
      text: '#FirstTag at the start, then #2024 and #v2 and (#inParens) and #end.',
      tags: ['ExtraTag', '#firsttag'],
      createdAt: '2024-11-19T07:06:40Z',
    };
    const mapped = event(mapJetstreamEvent(commit(Nsid.post, 'create', post))) as { tags: string[] };
    expect(mapped.tags).toEqual(['firsttag', 'v2', 'end', 'extratag']);
  });

  it('takes one word written in other Unicode forms as one tag: a separate accent mark, full-width letters', () => {
    const tagsOf = (text: string, tags?: string[]) =>
      (event(mapJetstreamEvent(commit(Nsid.post, 'create', { $type: 'app.bsky.feed.post', text, ...(tags && { tags }), createdAt: '2024-11-19T07:06:40Z' }))) as { tags: string[] }).tags;
    expect(tagsOf('#Café')).toEqual(['café']);
    expect(tagsOf('#Cafe\u0301')).toEqual(['café']);
    expect(tagsOf('＃ＣＡＦÉ')).toEqual(['café']);
    expect(tagsOf('no inline tag', ['CAFE\u0301'])).toEqual(['café']);
  });

  it('maps a plain quote, and ignores a quote of a feed generator (not a post)', () => {
    const quote = {
      $type: 'app.bsky.feed.post',
      text: 'this',
      embed: { $type: 'app.bsky.embed.record', record: { uri: parentUri, cid: parentCid } },
      createdAt: '2024-11-19T07:06:40Z',
    };
    expect(event(mapJetstreamEvent(commit(Nsid.post, 'create', quote)))).toMatchObject({ quote: parentUri, hasMedia: false });

    const feedUri = atUri(bob, Nsid.generator, 'bridging');
    const feedShare = { ...quote, embed: { $type: 'app.bsky.embed.record', record: { uri: feedUri, cid: parentCid } } };
    expect(event(mapJetstreamEvent(commit(Nsid.post, 'create', feedShare)))).toMatchObject({ quote: null, hasMedia: false });
  });

  it.each([
    ['app.bsky.embed.images', { images: [] }],
    ['app.bsky.embed.video', { video: { $type: 'blob', ref: { $link: 'bafkreib' }, mimeType: 'video/mp4', size: 1 } }],
    ['app.bsky.embed.external', { external: { uri: 'https://example.org', title: 'T', description: 'D' } }],
  ])('marks %s as media', ($type, body) => {
    const post = { $type: 'app.bsky.feed.post', text: '', embed: { $type, ...body }, createdAt: '2024-11-19T07:06:40Z' };
    expect(event(mapJetstreamEvent(commit(Nsid.post, 'create', post)))).toMatchObject({ hasMedia: true, quote: null, text: '' });
  });

  it('falls back to the relay time when createdAt is missing or not a date', () => {
    for (const createdAt of [undefined, 'not a date', 12]) {
      const post = { $type: 'app.bsky.feed.post', text: 'hi', createdAt };
      expect(event(mapJetstreamEvent(commit(Nsid.post, 'create', post)))).toMatchObject({ createdAtMs: Math.floor(timeUs / 1000) });
    }
  });

  it('keeps post edits as op "update"', () => {
    const post = { $type: 'app.bsky.feed.post', text: 'edited', createdAt: '2024-11-19T07:06:40Z' };
    expect(event(mapJetstreamEvent(commit(Nsid.post, 'update', post)))).toMatchObject({ type: 'post', op: 'update', text: 'edited' });
  });

  it('strips a run of trailing punctuation from an inline tag, and keeps punctuation inside it', () => {
    const punctuation = fc.constantFrom('!', '?', '.', ',', '…', '」', '¡', '-', '_', '/', '"');
    fc.assert(
      fc.property(fc.stringMatching(/^[a-z][a-z0-9]{0,20}$/), fc.string({ unit: punctuation, minLength: 1, maxLength: 40 }), fc.string({ unit: punctuation, maxLength: 40 }), (word, inner, trailing) => {
        const post = { $type: Nsid.post, text: `see #${word}${inner}x${trailing} and #${word}${trailing}`, createdAt: '2024-11-19T07:06:40Z' };
        // Inside, as the tag is matched by (NFKC: an ellipsis is three dots).
        expect((event(mapJetstreamEvent(commit(Nsid.post, 'create', post))) as { tags: string[] }).tags).toEqual([normaliseTag(`${word}${inner}x`), word]);
      }),
    );
  });
});

describe('mapJetstreamEvent: posts within the lexicon limits', () => {
  const post = (fields: Record<string, unknown>) => commit(Nsid.post, 'create', { $type: Nsid.post, text: 'hi', createdAt: '2024-11-19T07:06:40Z', ...fields });
  const tagFacet = (tag: string) => ({ index: { byteStart: 0, byteEnd: 2 }, features: [{ $type: 'app.bsky.richtext.facet#tag', tag }] });

  it('keeps a post at each limit: 300 graphemes of up to 3000 bytes, 3 langs, 8 tags, 300 facet features', () => {
    for (const text of ['a'.repeat(300), '🚲'.repeat(300), 'ü'.repeat(300), 'e\u0301'.repeat(300), '👍🏽'.repeat(300)]) {
      expect(mapJetstreamEvent(post({ text })).kind).toBe('event');
    }
    const tags = Array.from({ length: 8 }, (_, i) => `extra${i}`);
    const facets = Array.from({ length: 300 }, (_, i) => tagFacet(`facet${i}`));
    const mapped = event(mapJetstreamEvent(post({ langs: ['de', 'en', 'fr'], tags, facets }))) as { tags: string[]; langs: string[] };
    expect(mapped.langs).toEqual(['de', 'en', 'fr']);
    expect(mapped.tags).toHaveLength(308);
  });

  it.each([
    ['301 characters', { text: 'a'.repeat(301) }, 'record.text is longer than 3000 bytes or 300 graphemes'],
    ['301 emoji', { text: '🚲'.repeat(301) }, 'record.text is longer than 3000 bytes or 300 graphemes'],
    ['301 letters with an accent each', { text: 'e\u0301'.repeat(301) }, 'record.text is longer than 3000 bytes or 300 graphemes'],
    ['300 graphemes of 18 bytes each', { text: '👨‍👩‍👧'.repeat(300) }, 'record.text is longer than 3000 bytes or 300 graphemes'],
    ['a hashtag with 100 000 punctuation marks', { text: `#a${'!'.repeat(100_000)}x` }, 'record.text is longer than 3000 bytes or 300 graphemes'],
    ['a megabyte of text', { text: 'x'.repeat(1 << 20) }, 'record.text is longer than 3000 bytes or 300 graphemes'],
    ['4 langs', { langs: ['de', 'en', 'fr', 'it'] }, 'record.langs has more than 3 entries'],
    ['100 000 langs', { langs: Array.from({ length: 100_000 }, (_, i) => `l${i}`) }, 'record.langs has more than 3 entries'],
    ['9 extra tags', { tags: Array.from({ length: 9 }, (_, i) => `t${i}`) }, 'record.tags has more than 8 entries'],
    ['301 tag facets', { facets: Array.from({ length: 301 }, (_, i) => tagFacet(`t${i}`)) }, 'record.facets hold more than 300 features'],
    ['a facet of 100 000 features', { facets: [{ index: { byteStart: 0, byteEnd: 2 }, features: Array.from({ length: 100_000 }, (_, i) => ({ $type: 'app.bsky.richtext.facet#tag', tag: `t${i}` })) }] }, 'record.facets hold more than 300 features'],
    ['100 000 empty facets', { facets: Array.from({ length: 100_000 }, () => ({ index: { byteStart: 0, byteEnd: 2 }, features: [] })) }, 'record.facets hold more than 300 features'],
  ])('refuses a post with %s as malformed', (_label, fields, reason) => {
    expect(mapJetstreamEvent(post(fields))).toEqual({ kind: 'malformed', reason });
  });
});

describe('mapJetstreamEvent: interactions and graph', () => {
  const createdAt = '2024-11-19T07:06:41.500Z';

  it.each(['like', 'repost'] as const)('maps a %s of a post with its subject strong ref', (type) => {
    const record = { $type: Nsid[type], subject: { uri: rootUri, cid: rootCid }, createdAt };
    expect(event(mapJetstreamEvent(commit(Nsid[type], 'create', record)))).toEqual({
      v: 1,
      type,
      op: 'create',
      did: alice,
      timeUs,
      rkey: '3lbgbf3pgps2x',
      cid: postCid,
      createdAtMs: Date.parse(createdAt),
      subjectUri: rootUri,
      subjectCid: rootCid,
    });
  });

  it('skips likes of feed generators (only posts are ranked)', () => {
    const record = { $type: Nsid.like, subject: { uri: atUri(bob, Nsid.generator, 'whats-hot'), cid: rootCid }, createdAt };
    expect(mapJetstreamEvent(commit(Nsid.like, 'create', record))).toEqual({ kind: 'skip', reason: 'subject is not a post' });
  });

  it.each(['follow', 'block'] as const)('maps a %s to its subject DID', (type) => {
    const record = { $type: Nsid[type], subject: carol, createdAt };
    expect(event(mapJetstreamEvent(commit(Nsid[type], 'create', record)))).toEqual({
      v: 1,
      type,
      op: 'create',
      did: alice,
      timeUs,
      rkey: '3lbgbf3pgps2x',
      createdAtMs: Date.parse(createdAt),
      subjectDid: carol,
    });
  });

  it('maps a list item to the list AT-URI and the member DID', () => {
    const list = atUri(alice, Nsid.list, '3kbdw7a2qfk2c');
    const record = { $type: Nsid.listitem, subject: bob, list, createdAt };
    expect(event(mapJetstreamEvent(commit(Nsid.listitem, 'create', record)))).toMatchObject({
      type: 'listitem',
      op: 'create',
      list,
      subjectDid: bob,
    });
  });

  it('maps deletes of every kept collection to RecordDelete, without a record', () => {
    for (const [type, collection] of [
      ['post', Nsid.post],
      ['like', Nsid.like],
      ['repost', Nsid.repost],
      ['follow', Nsid.follow],
      ['block', Nsid.block],
      ['listitem', Nsid.listitem],
    ] as const) {
      expect(event(mapJetstreamEvent(commit(collection, 'delete')))).toEqual({
        v: 1,
        type,
        op: 'delete',
        did: alice,
        timeUs,
        rkey: '3lbgbf3pgps2x',
      });
    }
  });

  it('maps the edit of a like, repost, follow, block or list item as the record\'s new version, so that it replaces the old one', () => {
    const list = atUri(alice, Nsid.list, '3kbdw7a2qfk2c');
    for (const [collection, record, fields] of [
      [Nsid.like, { subject: { uri: parentUri, cid: parentCid } }, { subjectUri: parentUri, subjectCid: parentCid }],
      [Nsid.repost, { subject: { uri: parentUri, cid: parentCid } }, { subjectUri: parentUri, subjectCid: parentCid }],
      [Nsid.follow, { subject: carol }, { subjectDid: carol }],
      [Nsid.block, { subject: carol }, { subjectDid: carol }],
      [Nsid.listitem, { subject: carol, list }, { subjectDid: carol, list }],
    ] as const) {
      const created = event(mapJetstreamEvent(commit(collection, 'create', { $type: collection, ...record, createdAt })));
      expect(event(mapJetstreamEvent(commit(collection, 'update', { $type: collection, ...record, createdAt })))).toEqual({ ...(created as object), op: 'update', ...fields });
    }
  });

  it('withdraws a like or repost edited to a subject that is not a post: it no longer approves the post it named', () => {
    for (const type of ['like', 'repost'] as const) {
      const record = { $type: Nsid[type], subject: { uri: atUri(bob, Nsid.generator, 'whats-hot'), cid: rootCid }, createdAt };
      expect(mapJetstreamEvent(commit(Nsid[type], 'update', record))).toEqual({ kind: 'event', event: { v: 1, type, op: 'delete', did: alice, timeUs, rkey: '3lbgbf3pgps2x' } });
      expect(mapJetstreamEvent(commit(Nsid[type], 'create', record))).toEqual({ kind: 'skip', reason: 'subject is not a post' });
    }
  });

  it('reports an edit it refuses as malformed, with the record\'s delete to publish in its place, for every kind of record', () => {
    const notAList = atUri(alice, Nsid.post, '3kbdw7a2qfk2c');
    const pledged = { subject: { uri: rootUri, cid: rootCid }, community: 'climate' };
    for (const [type, collection, record, reason] of [
      ['post', Nsid.post, { text: 42 }, 'record.text is missing or not a string'],
      ['post', Nsid.post, { text: 'hi \ud800' }, 'a string holds an unpaired surrogate'],
      ['like', Nsid.like, { subject: { uri: rootUri } }, 'record.subject.cid is missing'],
      ['repost', Nsid.repost, {}, 'record.subject is missing or not a strong ref'],
      ['follow', Nsid.follow, { subject: 'carol.example.com' }, 'record.subject is missing or not a DID'],
      ['block', Nsid.block, { subject: 42 }, 'record.subject is missing or not a DID'],
      ['listitem', Nsid.listitem, { subject: carol, list: notAList }, 'record.list is not the AT-URI of a list'],
      ['starterpack', Nsid.starterpack, { name: 'x', list: notAList }, 'record.list is not the AT-URI of a list'],
      ['pledge', Nsid.pledge, { ...pledged, amount: 0 }, 'record.amount is not a whole number of credits from 1 to 1000000'],
      ['pledge', Nsid.pledge, { ...pledged, amount: 5_000_000 }, 'record.amount is not a whole number of credits from 1 to 1000000'],
      ['rating', Nsid.rating, { subject: { uri: rootUri, cid: rootCid }, val: 'helpful' }, 'record.subject is not a note (org.opencommunitynotes.label)'],
      ['noterequest', Nsid.noterequest, { subject: { uri: atUri(bob, Nsid.generator, 'whats-hot'), cid: rootCid } }, 'record.subject is not a post'],
    ] as const) {
      const withdrawal = { v: 1, type, op: 'delete', did: alice, timeUs, rkey: '3lbgbf3pgps2x' };
      expect(mapJetstreamEvent(commit(collection, 'update', { $type: collection, ...record, createdAt }))).toEqual({ kind: 'malformed', reason, withdrawal });
      expect(mapJetstreamEvent(commit(collection, 'create', { $type: collection, ...record, createdAt }))).toEqual({ kind: 'malformed', reason });
    }
    expect(mapJetstreamEvent(commit(Nsid.follow, 'update'))).toEqual({
      kind: 'malformed',
      reason: 'commit.record is missing or not an object',
      withdrawal: { v: 1, type: 'follow', op: 'delete', did: alice, timeUs, rkey: '3lbgbf3pgps2x' },
    });
  });

  it('skips other collections and unknown event kinds', () => {
    expect(mapJetstreamEvent(commit('app.bsky.actor.profile', 'update', { $type: 'app.bsky.actor.profile' }))).toEqual({
      kind: 'skip',
      reason: 'collection not ingested',
    });
    expect(mapJetstreamEvent(commit(Nsid.list, 'delete'))).toMatchObject({ kind: 'skip' });
    expect(mapJetstreamEvent({ did: alice, time_us: timeUs, kind: 'sync', sync: {} })).toEqual({
      kind: 'skip',
      reason: 'unknown event kind',
    });
  });
});

describe('mapJetstreamEvent: account and identity', () => {
  it('maps a takedown and a reactivation', () => {
    const takedown = {
      did: alice,
      time_us: timeUs,
      kind: 'account',
      account: { active: false, did: alice, seq: 3_402_198_882, status: 'takendown', time: '2024-11-19T07:06:40.622Z' },
    };
    expect(event(mapJetstreamEvent(takedown))).toEqual({ v: 1, type: 'account', did: alice, timeUs, active: false, status: 'takendown' });
    const active = { ...takedown, account: { active: true, did: alice, seq: 3_402_198_900, time: '2024-11-19T08:00:00.000Z' } };
    expect(event(mapJetstreamEvent(active))).toEqual({ v: 1, type: 'account', did: alice, timeUs, active: true, status: null });
  });

  it('maps a handle change (lower-cased) and an identity event without a handle', () => {
    const identity = {
      did: alice,
      time_us: timeUs,
      kind: 'identity',
      identity: { did: alice, handle: 'Alice.Example.COM', seq: 3_402_198_883, time: '2024-11-19T07:06:40.622Z' },
    };
    expect(event(mapJetstreamEvent(identity))).toEqual({ v: 1, type: 'identity', did: alice, timeUs, handle: 'alice.example.com' });
    const noHandle = { ...identity, identity: { did: alice, seq: 1, time: '2024-11-19T07:06:40.622Z' } };
    expect(event(mapJetstreamEvent(noHandle))).toMatchObject({ handle: null });
  });
});

describe('mapJetstreamEvent: malformed input', () => {
  const post = { $type: 'app.bsky.feed.post', text: 'hi', createdAt: '2024-11-19T07:06:40Z' };
  const like = { $type: Nsid.like, subject: { uri: rootUri, cid: rootCid }, createdAt: '2024-11-19T07:06:40Z' };
  const cases: [string, unknown, string][] = [
    ['null', null, 'event is not a JSON object'],
    ['an array', [1, 2], 'event is not a JSON object'],
    ['a string', 'hello', 'event is not a JSON object'],
    ['no did', { time_us: timeUs, kind: 'commit', commit: {} }, 'did is missing or not a DID'],
    ['a handle as did', { did: 'alice.bsky.social', time_us: timeUs, kind: 'account', account: { active: true } }, 'did is missing or not a DID'],
    ['no time_us', { did: alice, kind: 'identity', identity: {} }, 'time_us is missing or not a positive integer'],
    ['time_us as a string', { did: alice, time_us: String(timeUs), kind: 'identity', identity: {} }, 'time_us is missing or not a positive integer'],
    ['no kind', { did: alice, time_us: timeUs }, 'kind is missing'],
    ['no commit body', { did: alice, time_us: timeUs, kind: 'commit' }, 'commit is missing or not an object'],
    ['a bad operation', commit(Nsid.post, 'upsert', post), 'commit.operation is not create, update or delete'],
    ['a bad rkey', commit(Nsid.post, 'delete', undefined, { rkey: 'a/b' }), 'commit.rkey is missing or not a record key'],
    ['a create without record', commit(Nsid.post, 'create'), 'commit.record is missing or not an object'],
    ['a create without cid', commit(Nsid.post, 'create', post, { cid: undefined }), 'commit.cid is missing'],
    ['a mismatched $type', commit(Nsid.post, 'create', { ...post, $type: Nsid.like }), 'record.$type does not match commit.collection'],
    ['a numeric text', commit(Nsid.post, 'create', { ...post, text: 42 }), 'record.text is missing or not a string'],
    ['an unpaired surrogate in the text', commit(Nsid.post, 'create', { ...post, text: 'hi \ud800' }), 'a string holds an unpaired surrogate'],
    ['an unpaired surrogate in the cid', commit(Nsid.post, 'create', post, { cid: 'bafyrei\udfff' }), 'a string holds an unpaired surrogate'],
    ['an unpaired surrogate in a lang', commit(Nsid.post, 'create', { ...post, langs: ['en', '\ud83d'] }), 'a string holds an unpaired surrogate'],
    ['an unpaired surrogate in a handle', { did: alice, time_us: timeUs, kind: 'identity', identity: { handle: 'a\ud800.example.com' } }, 'a string holds an unpaired surrogate'],
    ['langs as a string', commit(Nsid.post, 'create', { ...post, langs: 'en' }), 'record.langs is not an array of strings'],
    ['a reply without parent', commit(Nsid.post, 'create', { ...post, reply: { root: { uri: rootUri, cid: rootCid } } }), 'record.reply.parent is missing or not a strong ref'],
    ['a reply to an https URL', commit(Nsid.post, 'create', { ...post, reply: { root: { uri: 'https://bsky.app/profile/x/post/y', cid: rootCid }, parent: { uri: parentUri, cid: parentCid } } }), 'record.reply.root.uri is not a valid AT-URI'],
    ['a quote without cid', commit(Nsid.post, 'create', { ...post, embed: { $type: 'app.bsky.embed.record', record: { uri: rootUri } } }), 'record.embed.record.cid is missing'],
    ['facets as an object', commit(Nsid.post, 'create', { ...post, facets: {} }), 'record.facets is not an array'],
    ['a numeric tag facet', commit(Nsid.post, 'create', { ...post, facets: [{ index: { byteStart: 0, byteEnd: 2 }, features: [{ $type: 'app.bsky.richtext.facet#tag', tag: 7 }] }] }), 'record.facets[].features[].tag is not a string'],
    ['a like of an invalid URI', commit(Nsid.like, 'create', { ...like, subject: { uri: 'at://alice.bsky.social/app.bsky.feed.post/3lbg', cid: rootCid } }), 'record.subject.uri is not a valid AT-URI'],
    ['a like without subject', commit(Nsid.like, 'create', { $type: Nsid.like, createdAt: '2024-11-19T07:06:40Z' }), 'record.subject is missing or not a strong ref'],
    ['a follow of a handle', commit(Nsid.follow, 'create', { $type: Nsid.follow, subject: 'bob.bsky.social' }), 'record.subject is missing or not a DID'],
    ['a list item in a post', commit(Nsid.listitem, 'create', { $type: Nsid.listitem, subject: bob, list: rootUri }), 'record.list is not the AT-URI of a list'],
    ['an account without active', { did: alice, time_us: timeUs, kind: 'account', account: { did: alice, seq: 1 } }, 'account.active is missing or not a boolean'],
    ['an account for another did', { did: alice, time_us: timeUs, kind: 'account', account: { did: bob, active: true } }, 'account.did does not match did'],
    ['a numeric handle', { did: alice, time_us: timeUs, kind: 'identity', identity: { did: alice, handle: 5 } }, 'identity.handle is not a string'],
    // Fields stored as they come: a megabyte in one would cost that much in the bus and the store.
    ['a megabyte language tag', commit(Nsid.post, 'create', { ...post, langs: ['en', 'x'.repeat(1 << 20)] }), 'record.langs has an entry longer than a language tag (128 characters)'],
    ['a megabyte cid', commit(Nsid.post, 'create', post, { cid: `bafy${'a'.repeat(1 << 20)}` }), 'commit.cid is longer than a CID (256 characters)'],
    ['a megabyte handle', { did: alice, time_us: timeUs, kind: 'identity', identity: { did: alice, handle: `${'a'.repeat(1 << 20)}.example.com` } }, 'identity.handle is longer than a handle (253 characters)'],
    ['a megabyte account status', { did: alice, time_us: timeUs, kind: 'account', account: { did: alice, active: false, status: 'x'.repeat(1 << 20) } }, 'account.status is longer than 64 characters'],
  ];

  it.each(cases)('reports %s precisely', (_label, raw, reason) => {
    expect(mapJetstreamEvent(raw)).toEqual({ kind: 'malformed', reason });
  });

  it('never throws, whatever part of a valid event is replaced', () => {
    const base = commit(Nsid.post, 'create', richPost) as Record<string, unknown>;
    const junk: unknown[] = [null, 0, -1, '', 'x', [], {}, true, Number.NaN, [null], { $type: 'x' }];
    const paths: string[][] = [];
    const walk = (value: unknown, path: string[]): void => {
      paths.push(path);
      if (typeof value === 'object' && value !== null) {
        for (const [key, child] of Object.entries(value)) walk(child, [...path, key]);
      }
    };
    walk(base, []);
    for (const path of paths.slice(1)) {
      for (const value of junk) {
        const copy = structuredClone(base);
        let target: Record<string, unknown> = copy;
        for (const key of path.slice(0, -1)) target = target[key] as Record<string, unknown>;
        target[path.at(-1)!] = value;
        const mapped = mapJetstreamEvent(copy);
        expect(['event', 'skip', 'malformed']).toContain(mapped.kind);
        if (mapped.kind === 'event') expect(PipelineEventSchema.parse(mapped.event)).toEqual(mapped.event);
      }
    }
  });

  // @NOTE The mapping is written by hand and the embedded pipeline's consumer takes its events as
  // they are: the bus message schema must hold of every one, whatever the stream.
  it('maps every event of a generated stream to a message the bus schema accepts unchanged', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1_000_000 }), (seed) => {
        const { events } = generateJetstreamEvents({ seed, users: 30, events: 250, startUs: timeUs });
        for (const raw of events) {
          const mapped = mapJetstreamEvent(JSON.parse(JSON.stringify(raw)));
          if (mapped.kind === 'event') expect(PipelineEventSchema.parse(mapped.event)).toEqual(mapped.event);
        }
      }),
      { numRuns: 10 },
    );
  });
});

describe('parseDateMs: Date.parse, read directly in the form clients write', () => {
  const padded = (max: number, width: number) => fc.integer({ min: 0, max }).map((value) => String(value).padStart(width, '0'));
  const part = (max: number, width: number) => fc.oneof({ weight: 9, arbitrary: padded(max, width) }, { weight: 1, arbitrary: fc.string({ minLength: width, maxLength: width }) });

  it('gives what Date.parse gives on strings of that shape, in range or not', () => {
    fc.assert(
      fc.property(part(9999, 4), part(14, 2), part(33, 2), part(25, 2), part(61, 2), part(61, 2), part(999, 3), (year, month, day, hour, minute, second, ms) => {
        const text = `${year}-${month}-${day}T${hour}:${minute}:${second}.${ms}Z`;
        expect(parseDateMs(text)).toBe(Date.parse(text));
      }),
      { numRuns: 5_000 },
    );
  });

  it('reads every instant from year 1000 to 9999 as written by toISOString', () => {
    fc.assert(
      fc.property(fc.date({ min: new Date('1000-01-01T00:00:00.000Z'), max: new Date('9999-12-31T23:59:59.999Z'), noInvalidDate: true }), (date) => {
        expect(parseDateMs(date.toISOString())).toBe(date.getTime());
      }),
      { numRuns: 5_000 },
    );
  });

  it('leaves any other string to Date.parse', () => {
    for (const text of ['2024-02-30T00:00:00.000Z', '2024-01-01T24:00:00.000Z', '0050-01-01T00:00:00.000Z', '2024-11-19T07:06:40Z', '2024-11-19T07:06:40.123+01:00', '2024-11-19', 'yesterday', '']) {
      expect(parseDateMs(text)).toBe(Date.parse(text));
    }
    fc.assert(
      fc.property(fc.string(), (text) => {
        expect(parseDateMs(text)).toBe(Date.parse(text));
      }),
    );
  });
});

describe('isJetstreamTimeUs: the time_us that may move a cursor', () => {
  it.each([
    [1_732_000_000_000_000, true],
    [MAX_TIME_US, true],
    [MAX_TIME_US + 1, false],
    [9e15, false],
    [Number.MAX_SAFE_INTEGER, false],
    [2 ** 53, false],
    [2 ** 60, false],
    [1e300, false],
    [0, false],
    [-1, false],
    [1.5, false],
    ['1732000000000000', false],
    [null, false],
  ])('%p → %p', (value, expected) => {
    expect(isJetstreamTimeUs(value)).toBe(expected);
  });

  it('given the clock, refuses a time_us more than the allowed skew ahead of it', () => {
    const nowUs = 1_763_000_000_000_000;
    expect(isJetstreamTimeUs(nowUs - 3_600_000_000, nowUs)).toBe(true);
    expect(isJetstreamTimeUs(nowUs + MAX_TIME_US_AHEAD, nowUs)).toBe(true);
    expect(isJetstreamTimeUs(nowUs + MAX_TIME_US_AHEAD + 1, nowUs)).toBe(false);
    expect(isJetstreamTimeUs(nowUs + 365 * 86_400_000_000, nowUs)).toBe(false);
  });

  it('makes an event from the future malformed, its reason a fixed string', () => {
    const identity = (time: number) => ({ did: alice, time_us: time, kind: 'identity', identity: { did: alice, handle: 'alice.example.com' } });
    expect(mapJetstreamEvent(identity(9e15))).toEqual({ kind: 'malformed', reason: 'time_us is in the future' });
    const nowUs = timeUs;
    expect(mapJetstreamEvent(identity(nowUs + 86_400_000_000), nowUs)).toEqual({ kind: 'malformed', reason: 'time_us is in the future' });
    expect(mapJetstreamEvent(identity(nowUs + 60_000_000), nowUs).kind).toBe('event');
  });
});

describe('wantedCollections and AT-URIs', () => {
  it('subscribes to exactly the collections that map to events', () => {
    expect([...wantedCollections].sort()).toEqual(
      [Nsid.post, Nsid.like, Nsid.repost, Nsid.follow, Nsid.block, Nsid.listitem, Nsid.starterpack, Nsid.pledge, Nsid.visibility, Nsid.note, Nsid.rating, Nsid.noterequest].sort(),
    );
  });

  it('round-trips record AT-URIs and rejects non-record or handle-based ones', () => {
    expect(parseAtUri(atUri(alice, Nsid.post, '3lbgbf3pgps2x'))).toEqual({ did: alice, collection: Nsid.post, rkey: '3lbgbf3pgps2x' });
    expect(parseAtUri(`at://${alice}`)).toBeNull();
    expect(parseAtUri(`at://${alice}/${Nsid.post}`)).toBeNull();
    expect(parseAtUri('at://alice.bsky.social/app.bsky.feed.post/3lbg')).toBeNull();
    expect(parseAtUri(`at://${alice}/not-an-nsid/3lbg`)).toBeNull();
    expect(parseAtUri(`at://${alice}/${Nsid.post}/3lbg?x=1`)).toBeNull();
  });
});

describe('starter packs', () => {
  const did = 'did:plc:curator00000000000000000';
  const pack = (record: Record<string, unknown>, operation: 'create' | 'update' = 'create') => ({
    did,
    time_us: 1_763_000_000_000_000,
    kind: 'commit',
    commit: { rev: '3kpackrev0000', operation, collection: Nsid.starterpack, rkey: '3kpack0000001', cid: 'bafyreipack', record },
  });

  it('maps a starter pack to the list behind it, on create and update', () => {
    const list = `at://${did}/app.bsky.graph.list/3klist0000001`;
    for (const operation of ['create', 'update'] as const) {
      expect(mapJetstreamEvent(pack({ $type: Nsid.starterpack, name: 'Birders', list, createdAt: '2025-11-13T02:13:20.000Z' }, operation))).toEqual({
        kind: 'event',
        event: { v: 1, type: 'starterpack', op: operation, did, timeUs: 1_763_000_000_000_000, rkey: '3kpack0000001', createdAtMs: Date.parse('2025-11-13T02:13:20.000Z'), list },
      });
    }
  });

  it('reports a starter pack whose list is not a list as malformed', () => {
    expect(mapJetstreamEvent(pack({ $type: Nsid.starterpack, name: 'x', list: `at://${did}/app.bsky.feed.post/3kpost` }))).toEqual({
      kind: 'malformed',
      reason: 'record.list is not the AT-URI of a list',
    });
  });
});

describe('Bridge Fund pledges', () => {
  const did = 'did:plc:member0000000000000000000';
  const subject = { uri: `at://${did}/app.bsky.feed.post/3kpost0000001`, cid: 'bafyreipost' };
  const pledge = (record: Record<string, unknown>, operation: 'create' | 'update' | 'delete' = 'create') => ({
    did,
    time_us: 1_763_000_000_000_000,
    kind: 'commit',
    commit: { rev: '3kpledgerev00', operation, collection: Nsid.pledge, rkey: '3kpledge00001', cid: 'bafyreipledge', record },
  });

  it('maps a pledge record to the post, community and credits it names, and its delete to a withdrawal', () => {
    const record = { $type: Nsid.pledge, subject, community: 'climate', amount: 120, createdAt: '2025-11-13T02:13:20.000Z' };
    expect(mapJetstreamEvent(pledge(record))).toEqual({
      kind: 'event',
      event: { v: 1, type: 'pledge', op: 'create', did, timeUs: 1_763_000_000_000_000, rkey: '3kpledge00001', createdAtMs: Date.parse('2025-11-13T02:13:20.000Z'), subjectUri: subject.uri, community: 'climate', amount: 120 },
    });
    expect(mapJetstreamEvent(pledge(record, 'delete'))).toEqual({
      kind: 'event',
      event: { v: 1, type: 'pledge', op: 'delete', did, timeUs: 1_763_000_000_000_000, rkey: '3kpledge00001' },
    });
  });

  it('maps the edit of a pledge as its new version: the credits and the post it names now', () => {
    const moved = { uri: `at://${did}/app.bsky.feed.post/3kpost0000002`, cid: 'bafyreipost2' };
    const record = { $type: Nsid.pledge, subject: moved, community: 'climate', amount: 40, createdAt: '2025-11-13T02:13:20.000Z' };
    expect(mapJetstreamEvent(pledge(record, 'update'))).toEqual({
      kind: 'event',
      event: { v: 1, type: 'pledge', op: 'update', did, timeUs: 1_763_000_000_000_000, rkey: '3kpledge00001', createdAtMs: Date.parse('2025-11-13T02:13:20.000Z'), subjectUri: moved.uri, community: 'climate', amount: 40 },
    });
  });

  it.each([
    [{ subject, community: 'Climate!', amount: 1 }, 'record.community is not a community id'],
    [{ subject, community: 'climate', amount: 0 }, 'record.amount is not a whole number of credits from 1 to 1000000'],
    [{ subject, community: 'climate', amount: 2.5 }, 'record.amount is not a whole number of credits from 1 to 1000000'],
    [{ subject: { uri: `at://${did}/app.bsky.graph.list/3k`, cid: 'x' }, community: 'climate', amount: 1 }, 'record.subject is not a post'],
  ])('reports a pledge %j as malformed', (record, reason) => {
    expect(mapJetstreamEvent(pledge(record))).toEqual({ kind: 'malformed', reason });
  });
});

describe('context notes (Open Community Notes records) and note requests', () => {
  const writer = 'did:plc:writer0000000000000000000';
  const post = `at://did:plc:author0000000000000000000/app.bsky.feed.post/3kpost0000001`;
  const noteUri = `at://${writer}/${Nsid.note}/3knote0000001`;
  const commit = (collection: string, record: Record<string, unknown>, operation: 'create' | 'update' | 'delete' = 'create') => ({
    did: writer,
    time_us: 1_763_000_000_000_000,
    kind: 'commit',
    commit: { rev: '3knoterev0000', operation, collection, rkey: '3krec00000001', cid: 'bafyreirec', record },
  });
  /** The version of the post the note names: a CID, as a strong reference's is. */
  const postCid = 'bafyreic7u2y2abetd6hbj32iunqqoe7vjgo4rn7i6vrezq3slqusdsd4xu';
  const note = { $type: Nsid.note, src: writer, uri: post, cid: postCid, val: 'readers-added-context', reason: 'factual_error', text: 'The figure is 42%, not 52%.', cts: '2025-11-13T02:13:20.000Z' };
  const created = { v: 1, did: writer, timeUs: 1_763_000_000_000_000, rkey: '3krec00000001' };

  it('maps a readers-added-context label record to a note on the post, and its delete to a withdrawal', () => {
    expect(mapJetstreamEvent(commit(Nsid.note, note))).toEqual({
      kind: 'event',
      event: { ...created, type: 'note', op: 'create', cid: 'bafyreirec', createdAtMs: 1_763_000_000_000, subjectUri: post, subjectCid: postCid, reason: 'factual_error', text: note.text },
    });
    expect(mapJetstreamEvent(commit(Nsid.note, note, 'delete'))).toEqual({ kind: 'event', event: { ...created, type: 'note', op: 'delete' } });
    const { reason: _, cid: __, ...bare } = note;
    expect(mapJetstreamEvent(commit(Nsid.note, bare))).toMatchObject({ kind: 'event', event: { reason: 'other', subjectCid: '' } });
  });

  it('reads a reason defined after this code as other (the lexicon\'s known values are an open set)', () => {
    const mapped = mapJetstreamEvent(commit(Nsid.note, { ...note, reason: 'ai_generated_media' }));
    expect(mapped).toMatchObject({ kind: 'event', event: { type: 'note', reason: 'other' } });
  });

  it('skips other label values and edits of a note', () => {
    expect(mapJetstreamEvent(commit(Nsid.note, { ...note, val: 'label-not-needed' }))).toEqual({ kind: 'skip', reason: 'label record other than readers-added-context' });
    expect(mapJetstreamEvent(commit(Nsid.note, note, 'update'))).toEqual({ kind: 'skip', reason: 'update of a note' });
  });

  it.each([
    [{ ...note, src: 'did:plc:someoneelse' }, 'record.src is not the repository that holds the note'],
    [{ ...note, uri: `at://${writer}/app.bsky.graph.list/3k` }, 'record.uri is not the AT-URI of a post'],
    [{ ...note, reason: 7 }, 'record.reason is not a string'],
    [{ ...note, text: '  ' }, 'record.text is missing, empty or longer than 3000 characters'],
    [{ ...note, text: 'x'.repeat(3001) }, 'record.text is missing, empty or longer than 3000 characters'],
    [{ ...note, cid: 'bafyreipost' }, 'record.cid is not a CID'],
  ])('reports a note %#  as malformed', (record, reason) => {
    expect(mapJetstreamEvent(commit(Nsid.note, record))).toEqual({ kind: 'malformed', reason });
  });

  it('maps a rating and its edit (the rater\'s new rating), with the version of the note rated; a rating of something else is malformed', () => {
    const rating = { $type: Nsid.rating, subject: { uri: noteUri, cid: 'bafyreinote' }, val: 'somewhat_helpful', reasons: ['is_clear'], createdAt: '2025-11-13T02:13:20.000Z' };
    for (const operation of ['create', 'update'] as const) {
      expect(mapJetstreamEvent(commit(Nsid.rating, rating, operation))).toEqual({
        kind: 'event',
        event: { ...created, type: 'rating', op: operation, createdAtMs: Date.parse(rating.createdAt), subjectUri: noteUri, subjectCid: 'bafyreinote', helpfulness: 'somewhat_helpful' },
      });
    }
    expect(mapJetstreamEvent(commit(Nsid.rating, { ...rating, val: 'great' }))).toEqual({ kind: 'skip', reason: 'rating of a value not known here' });
    expect(mapJetstreamEvent(commit(Nsid.rating, { ...rating, val: 3 }))).toEqual({ kind: 'malformed', reason: 'record.val is not a string' });
    expect(mapJetstreamEvent(commit(Nsid.rating, { ...rating, subject: { uri: post, cid: 'x' } }))).toEqual({
      kind: 'malformed',
      reason: 'record.subject is not a note (org.opencommunitynotes.label)',
    });
  });

  it('maps a note request on a post, and its edit', () => {
    const request = { $type: Nsid.noterequest, subject: { uri: post, cid: 'bafyreipost' }, createdAt: '2025-11-13T02:13:20.000Z' };
    for (const operation of ['create', 'update'] as const) {
      expect(mapJetstreamEvent(commit(Nsid.noterequest, request, operation))).toEqual({
        kind: 'event',
        event: { ...created, type: 'noterequest', op: operation, createdAtMs: Date.parse(request.createdAt), subjectUri: post },
      });
    }
  });
});

describe('content visibility declarations', () => {
  const did = 'did:plc:asker000000000000000000';
  const declaration = (record: Record<string, unknown> | undefined, rkey = 'self', operation: 'create' | 'update' | 'delete' = 'create') => ({
    did,
    time_us: 1_763_000_000_000_000,
    kind: 'commit',
    commit: { rev: '3kdeclrev0000', operation, collection: Nsid.visibility, rkey, cid: 'bafyreidecl', record },
  });

  it('maps what the account asks, on create and update; a missing field means not hidden', () => {
    for (const operation of ['create', 'update'] as const) {
      expect(mapJetstreamEvent(declaration({ $type: Nsid.visibility, hideFromAlgorithmicRecommendations: true }, 'self', operation))).toEqual({
        kind: 'event',
        event: { v: 1, type: 'visibility', op: operation, did, timeUs: 1_763_000_000_000_000, rkey: 'self', hideFromAlgorithms: true },
      });
    }
    expect(mapJetstreamEvent(declaration({ $type: Nsid.visibility }))).toMatchObject({ kind: 'event', event: { hideFromAlgorithms: false } });
  });

  it('skips a declaration under another record key and reports a non-boolean as malformed', () => {
    expect(mapJetstreamEvent(declaration({ hideFromAlgorithmicRecommendations: true }, 'other'))).toEqual({ kind: 'skip', reason: 'declaration not at record key self' });
    expect(mapJetstreamEvent(declaration({ hideFromAlgorithmicRecommendations: true }, 'other', 'update'))).toEqual({ kind: 'skip', reason: 'declaration not at record key self' });
    for (const operation of ['create', 'update'] as const) {
      expect(mapJetstreamEvent(declaration({ hideFromAlgorithmicRecommendations: 'yes' }, 'self', operation))).toEqual({
        kind: 'malformed',
        reason: 'record.hideFromAlgorithmicRecommendations is not a boolean',
      });
    }
  });

  it('un-hides an account when its declaration is deleted, and not when a record under another key is', () => {
    expect(mapJetstreamEvent(declaration(undefined, 'self', 'delete'))).toEqual({
      kind: 'event',
      event: { v: 1, type: 'visibility', op: 'delete', did, timeUs: 1_763_000_000_000_000, rkey: 'self' },
    });
    expect(mapJetstreamEvent(declaration(undefined, 'junk', 'delete'))).toEqual({ kind: 'skip', reason: 'declaration not at record key self' });
  });
});
