import { decodeFeedbackEvent, decodePipelineEvent, encodeMessage, MessageDecodeError } from './message.codec.js';
import { FeedbackEventSchema, type FeedbackEventV1 } from './feedback-event.js';
import { PipelineEventSchema, type PipelineEventV1 } from './pipeline-event.js';

const timeUs = 1_763_000_000_000_000;
const follow: PipelineEventV1 = {
  v: 1, type: 'follow', op: 'create', did: 'did:plc:alice', rkey: '3kfollow', timeUs, createdAtMs: timeUs / 1000, subjectDid: 'did:plc:bob',
};
const feedback: FeedbackEventV1 = {
  v: 1, type: 'feedback', viewer: 'did:plc:alice', feed: null, item: 'at://did:plc:bob/app.bsky.feed.post/3kpost', event: 'requestLess', feedContext: null, reqId: null, timeUs,
};
const reason = (decode: () => unknown): string | undefined => {
  try {
    decode();
    return undefined;
  } catch (error) {
    if (error instanceof MessageDecodeError) return error.message;
    throw error;
  }
};

describe('message decoders and numbers', () => {
  it.each([
    ['a float', timeUs + 0.5],
    ['zero', 0],
    ['a negative', -timeUs],
    ['NaN (null in JSON)', Number.NaN],
    ['beyond the year 2100', 4_102_444_800_000_001],
    ['beyond 2^53', 2 ** 60],
    ['a numeric string', String(timeUs)],
  ])('rejects a timeUs that is %s, on both topics', (_, value) => {
    const expected = 'field "timeUs": expected a positive integer of microseconds';
    expect(reason(() => decodePipelineEvent(JSON.stringify({ ...follow, timeUs: value })))).toBe(expected);
    expect(reason(() => decodeFeedbackEvent(JSON.stringify({ ...feedback, timeUs: value })))).toBe(expected);
  });

  it.each([
    ['a float', 1.5],
    ['beyond what a Date holds', 8.64e15 + 1],
  ])('rejects a createdAtMs that is %s', (_, value) => {
    expect(reason(() => decodePipelineEvent(JSON.stringify({ ...follow, createdAtMs: value })))).toBe('field "createdAtMs": expected an integer of milliseconds');
  });

  it('accepts integers in range, a createdAt before 1970 included', () => {
    expect(decodePipelineEvent(encodeMessage(follow))).toEqual(follow);
    const old = { ...follow, createdAtMs: Date.parse('0001-01-01T00:00:00Z') };
    expect(decodePipelineEvent(encodeMessage(old))).toEqual(old);
    expect(decodeFeedbackEvent(encodeMessage(feedback))).toEqual(feedback);
  });
});

describe('message decoders and unpaired surrogates', () => {
  const post: PipelineEventV1 = {
    v: 1, type: 'post', op: 'create', did: 'did:plc:alice', rkey: '3kpost', timeUs, createdAtMs: timeUs / 1000, cid: 'bafy', text: 'hi', langs: ['en'], tags: [], replyRoot: null, replyParent: null, quote: null, hasMedia: false,
  };
  // ClickHouse refuses the escape of each, and with it every row of the insert that carries one.
  it.each([
    ['the text of a post', { ...post, text: 'half an emoji \ud83d' }],
    ['a tag of a post', { ...post, tags: ['ok', '\udfff'] }],
    ['a language of a post', { ...post, langs: ['en\ud800'] }],
    ['a handle', { v: 1, type: 'identity', did: 'did:plc:alice', timeUs, handle: 'alice\ud800.example.com' }],
    ['the status of an account', { v: 1, type: 'account', did: 'did:plc:alice', timeUs, active: false, status: '\udc00' }],
    ['a field no schema names', { ...follow, note: '\ud800' }],
  ])('refuse a pipeline event with an unpaired surrogate in %s, for the dead-letter topic', (_, event) => {
    expect(reason(() => decodePipelineEvent(JSON.stringify(event)))).toBe('a string holds an unpaired surrogate');
  });

  it.each([
    ['its feed context', { ...feedback, feedContext: 'climate\ud800' }],
    ['its request id', { ...feedback, reqId: '\udfff' }],
  ])('refuse viewer feedback with an unpaired surrogate in %s, for the dead-letter topic', (_, event) => {
    expect(reason(() => decodeFeedbackEvent(JSON.stringify(event)))).toBe('a string holds an unpaired surrogate');
  });

  it('take the pairs that make one character, emoji included', () => {
    const emoji = { ...post, text: 'a whole emoji \ud83d\ude00', tags: ['🌍'] };
    expect(decodePipelineEvent(JSON.stringify(emoji))).toEqual(emoji);
    expect(decodeFeedbackEvent(JSON.stringify({ ...feedback, feedContext: '🌍' }))).toEqual({ ...feedback, feedContext: '🌍' });
  });
});

describe('message decoders and edits', () => {
  const created = { did: 'did:plc:alice', rkey: '3krec', timeUs, createdAtMs: timeUs / 1000 };
  const post = 'at://did:plc:bob/app.bsky.feed.post/3kpost';

  it('take the edit of a pledge or a list item, which the store keeps as the record\'s new version', () => {
    const pledge = { v: 1, type: 'pledge', op: 'update', ...created, subjectUri: post, community: 'climate', amount: 10 };
    expect(decodePipelineEvent(JSON.stringify(pledge))).toEqual(pledge);
    const item = { v: 1, type: 'listitem', op: 'update', ...created, subjectDid: 'did:plc:carol', list: 'at://did:plc:alice/app.bsky.graph.list/3klist' };
    expect(decodePipelineEvent(JSON.stringify(item))).toEqual(item);
  });

  it('refuse the edit of a note, which ingest never sends', () => {
    const note = { v: 1, type: 'note', op: 'update', ...created, cid: 'bafy', subjectUri: post, subjectCid: '', reason: 'other', text: 'context' };
    expect(reason(() => decodePipelineEvent(JSON.stringify(note)))).toBe('operation "update" is not valid for note');
  });
});

describe('the decoders by hand and the schemas', () => {
  const uri = 'at://did:plc:bob/app.bsky.feed.post/3kpost';
  const created = { did: 'did:plc:alice', rkey: '3krec', timeUs, createdAtMs: timeUs / 1000 };
  const valid: Record<string, unknown>[] = [
    { v: 1, type: 'post', op: 'create', ...created, cid: 'bafy', text: 'hi', langs: ['en'], tags: [], replyRoot: null, replyParent: uri, quote: null, hasMedia: false },
    { v: 1, type: 'like', op: 'create', ...created, cid: 'bafy', subjectUri: uri, subjectCid: 'bafy' },
    { v: 1, type: 'repost', op: 'create', ...created, cid: 'bafy', subjectUri: uri, subjectCid: 'bafy' },
    { v: 1, type: 'block', op: 'create', ...created, subjectDid: 'did:plc:bob' },
    { v: 1, type: 'listitem', op: 'create', ...created, subjectDid: 'did:plc:bob', list: uri },
    { v: 1, type: 'listitem', op: 'update', ...created, subjectDid: 'did:plc:bob', list: uri },
    { v: 1, type: 'like', op: 'update', ...created, cid: 'bafy', subjectUri: uri, subjectCid: 'bafy' },
    { v: 1, type: 'follow', op: 'update', ...created, subjectDid: 'did:plc:bob' },
    { v: 1, type: 'pledge', op: 'update', ...created, subjectUri: uri, community: 'climate', amount: 10 },
    { v: 1, type: 'noterequest', op: 'update', ...created, subjectUri: uri },
    { v: 1, type: 'starterpack', op: 'update', ...created, list: uri },
    { v: 1, type: 'note', op: 'create', ...created, cid: 'bafy', subjectUri: uri, subjectCid: '', reason: 'factual_error', text: 'context' },
    { v: 1, type: 'rating', op: 'update', ...created, subjectUri: 'at://did:plc:bob/org.opencommunitynotes.label/3k', helpfulness: 'not_helpful' },
    { v: 1, type: 'rating', op: 'create', ...created, subjectUri: 'at://did:plc:bob/org.opencommunitynotes.label/3k', subjectCid: 'bafy', helpfulness: 'helpful' },
    { v: 1, type: 'noterequest', op: 'create', ...created, subjectUri: uri },
    { v: 1, type: 'post', op: 'delete', did: 'did:plc:alice', rkey: '3krec', timeUs },
    { v: 1, type: 'account', did: 'did:plc:alice', timeUs, active: false, status: 'takendown' },
    { v: 1, type: 'identity', did: 'did:plc:alice', timeUs, handle: null },
    follow,
  ];
  const values = [undefined, null, true, -1, 1.5, 2 ** 60, '', 'x', 'did:plc:x', 'at://x', 'update', 'delete', 'account', ['en'], [1], {}, 'at://x\ud800', ['\udfff']];
  const verdict = (decode: (text: string) => unknown, text: string) => reason(() => decode(text)) === undefined;

  it('accept and refuse the same messages: every field of every kind set to each odd value', () => {
    const disagreements: string[] = [];
    for (const message of [...valid, feedback]) {
      const schema = message === feedback ? FeedbackEventSchema : PipelineEventSchema;
      const decode = message === feedback ? decodeFeedbackEvent : decodePipelineEvent;
      for (const field of [...Object.keys(message), 'unknown']) {
        for (const value of values) {
          const text = JSON.stringify({ ...message, [field]: value });
          if (verdict(decode, text) !== schema.safeParse(JSON.parse(text)).success) disagreements.push(text);
        }
      }
    }
    expect(disagreements).toEqual([]);
  });
});
