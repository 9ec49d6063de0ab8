/** A post's notes as its page reads them, from the real store: embedded ClickHouse (chDB). */
import { EventRepository, NoteRepository, PostRepository, type ClickHouseClient, type NoteStatusRow } from '#lib/clickhouse';
import type { AppConfig } from '#lib/config';
import type { PipelineEventV1 } from '#lib/contracts';
import { jest } from '@jest/globals';
import { MAX_OTHER_NOTES, MAX_QUEUE, NotesService } from './notes.service.js';
import { openEmbeddedStore, type EmbeddedStore } from '#lib/testing';

const post = 'at://did:plc:author/app.bsky.feed.post/3kcrowded';
const writer = (n: number) => `did:plc:writer${String(n).padStart(4, '0')}`;
const noteUri = (n: number) => `at://${writer(n)}/org.opencommunitynotes.label/3knote`;
const timeUs = 1_760_000_000_000_000;

describe('the notes of one post', () => {
  let store: EmbeddedStore;
  let database: string;
  let client: ClickHouseClient;
  let events: EventRepository;
  let repository: NoteRepository;
  let service: NotesService;

  beforeAll(async () => {
    store = await openEmbeddedStore('notes_service');
    ({ client, database } = store);
    events = new EventRepository(client, database);
    repository = new NoteRepository(client, database);
    service = new NotesService({ labeler: { did: 'did:web:labeler' } } as AppConfig, repository, new PostRepository(client, database));
  });

  afterAll(() => store?.close());

  it('lists the helpful notes and the best others up to a bound, and says how many it left out', async () => {
    const count = 500;
    await events.write(
      Array.from({ length: count }, (_, n): PipelineEventV1 => ({
        v: 1,
        type: 'note',
        op: 'create',
        did: writer(n),
        rkey: '3knote',
        timeUs: timeUs + n,
        createdAtMs: timeUs / 1000,
        cid: `bafynote${n}`,
        subjectUri: post,
        subjectCid: '',
        reason: 'factual_error',
        text: `${n} `.padEnd(3_000, 'x'),
      })),
    );
    // Notes 0–1 helpful, 2–299 scored needs more ratings (the higher n, the higher the intercept), 300–399 not helpful, the rest unscored.
    const status = (n: number, value: string): NoteStatusRow => ({
      note: noteUri(n),
      noteCid: `bafynote${n}`,
      post,
      status: value,
      intercept: n / 1_000,
      factor: 0,
      raters: 5,
      ratersNegative: 2,
      ratersPositive: 3,
      updatedAtMs: timeUs / 1000,
    });
    await repository.writeStatuses(
      Array.from({ length: 400 }, (_, n) => status(n, n < 2 ? 'helpful' : n < 300 ? 'needs-more-ratings' : 'not-helpful')),
    );
    const shown = await service.onPost(post);
    expect(shown.notes).toHaveLength(2 + MAX_OTHER_NOTES);
    expect(shown.omitted).toBe(count - 2 - MAX_OTHER_NOTES);
    expect(shown.notes.slice(0, 2).map((note) => note.status)).toEqual(['helpful', 'helpful']);
    // The others best first: needs more ratings, highest intercept first.
    expect(shown.notes.slice(2).map((note) => note.uri)).toEqual(Array.from({ length: MAX_OTHER_NOTES }, (_, i) => noteUri(299 - i)));
    expect(shown.notes[2]).toMatchObject({ status: 'needs-more-ratings', intercept: 0.299, raters: 5, raterSides: { negative: 2, positive: 3 } });
    expect(shown.label).toEqual({ src: 'did:web:labeler', val: 'readers-added-context' });
  });

  it('counts the accounts that asked for a note, not their request records', async () => {
    const asked = 'at://did:plc:author/app.bsky.feed.post/3kasked';
    const request = (did: string, rkey: string, at: number): PipelineEventV1 => ({ v: 1, type: 'noterequest', op: 'create', did, rkey, timeUs: at, createdAtMs: at / 1000, subjectUri: asked });
    await events.write([request('did:plc:eager', '3kreq1', timeUs + 1), request('did:plc:eager', '3kreq2', timeUs + 2)]);
    expect((await service.onPost(asked)).requests).toBe(1);
    expect((await service.requested(10)).find((row) => row.post === asked)?.requests).toBe(1);
    await events.write([request('did:plc:other', '3kreq3', timeUs + 3)]);
    expect((await service.onPost(asked)).requests).toBe(2);
  });

  it('leaves out a note and a request withdrawn since, though the withdrawal keeps no post (a read by post must still see it)', async () => {
    const other = 'at://did:plc:author/app.bsky.feed.post/3kwithdrawn';
    const note: PipelineEventV1 = {
      v: 1, type: 'note', op: 'create', did: 'did:plc:regret', rkey: '3kgone', timeUs, createdAtMs: timeUs / 1000,
      cid: 'bafygone', subjectUri: other, subjectCid: '', reason: 'other', text: 'withdrawn',
    };
    const request: PipelineEventV1 = { v: 1, type: 'noterequest', op: 'create', did: 'did:plc:regret', rkey: '3kask', timeUs, createdAtMs: timeUs / 1000, subjectUri: other };
    // The withdrawal is a part of its own, with no post in it: a skip index on the post would let FINAL miss it.
    await events.write([note, request]);
    expect((await service.onPost(other)).notes).toHaveLength(1);
    expect((await service.onPost(other)).requests).toBe(1);
    await events.write([
      { v: 1, type: 'note', op: 'delete', did: 'did:plc:regret', rkey: '3kgone', timeUs: timeUs + 10 },
      { v: 1, type: 'noterequest', op: 'delete', did: 'did:plc:regret', rkey: '3kask', timeUs: timeUs + 10 },
    ]);
    const after = await service.onPost(other);
    expect(after.notes).toEqual([]);
    expect(after.requests).toBe(0);
  });

  it('answers every reader of the queue within a few seconds from one read, whatever their limit', async () => {
    const reads = jest.spyOn(repository, 'requested');
    const fresh = new NotesService({ labeler: {} } as AppConfig, repository, new PostRepository(client, database));
    const [first, longer] = await Promise.all([fresh.requested(1), fresh.requested(MAX_QUEUE)]);
    expect(longer.length).toBeGreaterThan(0);
    expect(await fresh.requested(2)).toEqual(longer.slice(0, 2));
    expect(first).toEqual(longer.slice(0, 1));
    expect(reads.mock.calls).toEqual([[MAX_QUEUE]]);
    reads.mockRestore();
  });
});
