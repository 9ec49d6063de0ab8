import { jsonToLex } from '@atproto/lex-json';
import type { Event as FirehoseEvent } from '@atproto/sync';
import { toJetstreamEvent } from './firehose-to-jetstream.js';

const did = 'did:plc:alice';
const cidString = 'bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm';
const meta = { seq: 7, time: '2026-01-02T03:04:05.000Z', rev: '3lrev', did, collection: 'app.bsky.feed.post', rkey: '3lkey' };

/** A firehose event as @atproto/sync hands it over (fields the translation ignores are left out). */
const firehose = (event: Record<string, unknown>) => ({ ...meta, ...event }) as unknown as FirehoseEvent;

describe('toJetstreamEvent', () => {
  it('renders a created record as JSON the way Jetstream does ($link, $bytes, blob refs)', () => {
    const record = jsonToLex({
      $type: 'app.bsky.feed.post',
      text: 'hi',
      embed: { $type: 'app.bsky.embed.images', images: [{ alt: '', image: { $type: 'blob', ref: { $link: cidString }, mimeType: 'image/png', size: 42 } }] },
      reply: { root: { uri: 'at://did:plc:bob/app.bsky.feed.post/1', cid: cidString } },
      sig: { $bytes: 'AQID' },
    });
    const event = toJetstreamEvent(firehose({ event: 'create', record, cid: jsonToLex({ $link: cidString }) }), 1_700_000_000_000_001);
    expect(event).toEqual({
      did,
      time_us: 1_700_000_000_000_001,
      kind: 'commit',
      commit: {
        rev: '3lrev',
        operation: 'create',
        collection: 'app.bsky.feed.post',
        rkey: '3lkey',
        cid: cidString,
        record: {
          $type: 'app.bsky.feed.post',
          text: 'hi',
          embed: { $type: 'app.bsky.embed.images', images: [{ alt: '', image: { $type: 'blob', ref: { $link: cidString }, mimeType: 'image/png', size: 42 } }] },
          reply: { root: { uri: 'at://did:plc:bob/app.bsky.feed.post/1', cid: cidString } },
          sig: { $bytes: 'AQID' },
        },
      },
    });
    expect(JSON.parse(JSON.stringify(event))).toEqual(event);
  });

  it('sends deletes without record or cid', () => {
    expect(toJetstreamEvent(firehose({ event: 'delete' }), 5)).toEqual({
      did,
      time_us: 5,
      kind: 'commit',
      commit: { rev: '3lrev', operation: 'delete', collection: 'app.bsky.feed.post', rkey: '3lkey' },
    });
  });

  it('keeps the firehose seq and time on identity and account events', () => {
    expect(toJetstreamEvent(firehose({ event: 'identity', handle: 'alice.test' }), 9)).toEqual({
      did,
      time_us: 9,
      kind: 'identity',
      identity: { did, handle: 'alice.test', seq: 7, time: meta.time },
    });
    expect(toJetstreamEvent(firehose({ event: 'account', active: false, status: 'takendown' }), 10)).toEqual({
      did,
      time_us: 10,
      kind: 'account',
      account: { active: false, did, seq: 7, time: meta.time, status: 'takendown' },
    });
    expect(toJetstreamEvent(firehose({ event: 'account', active: true }), 11)).toEqual({
      did,
      time_us: 11,
      kind: 'account',
      account: { active: true, did, seq: 7, time: meta.time },
    });
  });

  it('drops #sync events, which Jetstream v1 never emits', () => {
    expect(toJetstreamEvent(firehose({ event: 'sync', cid: jsonToLex({ $link: cidString }) }), 12)).toBeNull();
  });
});
