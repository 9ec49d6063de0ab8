/**
 * The notes step against the real store: records mapped from Jetstream commits, written as ingest
 * writes them, scored from ClickHouse. Embedded ClickHouse (chDB).
 */
import { EventRepository, NoteRepository, PostRepository, type ClickHouseClient } from '#lib/clickhouse';
import type { AppConfig } from '#lib/config';
import { mapJetstreamEvent, Nsid } from '#lib/domain';
import { capturedLogger, noteEvent, ratingEvent, recordEvent, openEmbeddedStore, type EmbeddedStore } from '#lib/testing';
import { NotesStep } from './notes.step.js';

const camp = (name: string, size: number) => Array.from({ length: size }, (_, i) => `did:plc:${name}${String(i).padStart(20, '0')}`);
const left = camp('left', 6);
const right = camp('right', 6);
const writers = camp('writer', 3);
const post = (rkey: string) => `at://did:plc:author000000000000000000/${Nsid.post}/${rkey}`;
const config = { notes: { proposalsPerDay: 10, youngAccountDays: 0, raterPriors: false } } as AppConfig;

describe('the notes step on the store', () => {
  let store: EmbeddedStore;
  let database: string;
  let client: ClickHouseClient;
  let events: EventRepository;
  let notes: NoteRepository;
  let step: NotesStep;

  beforeAll(async () => {
    store = await openEmbeddedStore('notes_step');
    ({ client, database } = store);
    events = new EventRepository(client, database);
    notes = new NoteRepository(client, database);
    step = new NotesStep(config, notes, new PostRepository(client, database), capturedLogger().logger);
  });

  afterAll(() => store?.close());

  /** Ingests Jetstream commits as the pipeline does: mapped to events, written to their tables. */
  const ingest = (...commits: unknown[]) =>
    events.write(
      commits.flatMap((commit) => {
        const mapped = mapJetstreamEvent(commit);
        if (mapped.kind !== 'event') throw new Error(`not an event: ${JSON.stringify(mapped)}`);
        return [mapped.event];
      }),
    );
  const rate = (note: { uri: string; cid: string }, raters: readonly string[], helpfulness: 'helpful' | 'not_helpful') =>
    raters.map((did) => ratingEvent({ did, note, helpfulness }));
  const statusOf = async (note: string) => (await notes.statuses([note]))[0]?.status;

  it('rates a note deleted and written again at the same record key afresh: the old version\'s ratings do not count', async () => {
    // Two notes that split the raters (each side finds one helpful), and one both sides find helpful.
    const leftNote = noteEvent({ did: writers[1]!, post: post('3kleftclaim01'), text: 'A note the left likes.' });
    const rightNote = noteEvent({ did: writers[2]!, post: post('3krightclaim1'), text: 'A note the right likes.' });
    const bridged = noteEvent({ did: writers[0]!, post: post('3kmisleading01'), text: 'The chart is from 2015, not this year.' });
    await ingest(
      leftNote.event,
      rightNote.event,
      bridged.event,
      ...rate(leftNote, left, 'helpful'),
      ...rate(leftNote, right, 'not_helpful'),
      ...rate(rightNote, right, 'helpful'),
      ...rate(rightNote, left, 'not_helpful'),
      ...rate(bridged, [...left.slice(0, 3), ...right.slice(0, 2)], 'helpful'),
    );
    const first = await step.run(Date.now(), []);
    expect(await statusOf(bridged.uri)).toBe('helpful');
    expect(first.helpful.map((note) => note.note)).toEqual([bridged.uri]);

    const { rkey } = bridged.event.commit;
    const deleted = recordEvent({ did: writers[0]!, collection: Nsid.note, rkey });
    const written = recordEvent({
      did: writers[0]!,
      collection: Nsid.note,
      rkey,
      record: { src: writers[0], uri: post('3kmisleading01'), val: 'readers-added-context', reason: 'other', text: 'Something else entirely.', cts: new Date().toISOString() },
    });
    await ingest(deleted, written);
    expect((await notes.notes([post('3kmisleading01')])).map((note) => note.cid)).toEqual([written.commit.cid]);
    // Before the next run, the new text is not shown as rated helpful, nor acted on by a ranker that reads the stored statuses.
    expect((await notes.onPost(post('3kmisleading01'), 10)).notes).toEqual([{ note: expect.objectContaining({ cid: written.commit.cid }) }]);
    expect((await step.stored()).helpful).toEqual([]);
    const second = await step.run(Date.now(), []);
    expect(await statusOf(bridged.uri)).toBe('needs-more-ratings');
    expect(second.helpful).toEqual([]);
  });
  it('gives no helpful note for a post that is gone (its author taken down, or the post deleted), and gives it again when the post is back', async () => {
    const author = 'did:plc:noted00000000000000000000';
    const target = recordEvent({ did: author, collection: Nsid.post, record: { text: 'A chart.', createdAt: new Date().toISOString() } });
    const uri = `at://${author}/${Nsid.post}/${target.commit.rkey}`;
    const note = noteEvent({ did: writers[0]!, post: uri, text: 'The chart is from 2015.' });
    await ingest(target, note.event, ...rate(note, [...left.slice(0, 3), ...right.slice(0, 2)], 'helpful'));
    const helpfulOn = async () => (await step.run(Date.now(), [])).helpful.filter((helpful) => helpful.post === uri).map((helpful) => helpful.postCid);
    expect(await helpfulOn()).toEqual([target.commit.cid]);

    let seq = 0;
    const account = (active: boolean) => {
      const timeUs = recordEvent({ did: author, collection: Nsid.post, rkey: 'clock' }).time_us;
      return { did: author, time_us: timeUs, kind: 'account', account: { active, did: author, seq: (seq += 1), time: new Date().toISOString(), ...(!active && { status: 'takendown' }) } };
    };
    await ingest(account(false));
    expect(await helpfulOn()).toEqual([]);
    await ingest(account(true));
    expect(await helpfulOn()).toEqual([target.commit.cid]);
    await ingest(recordEvent({ did: author, collection: Nsid.post, rkey: target.commit.rkey }));
    expect(await helpfulOn()).toEqual([]);
  });

  it('sets aside the notes of a writer whose account is taken down, and counts them again when it comes back', async () => {
    const writer = 'did:plc:suspended000000000000000';
    const target = post('3ksuspended01');
    const note = noteEvent({ did: writer, post: target, text: 'Context from an account that is then taken down.' });
    await ingest(note.event, ...rate(note, [...left, ...right], 'helpful'));
    const helpfulOn = async () => (await step.run(Date.now(), [])).helpful.filter((helpful) => helpful.note === note.uri).length;
    const listed = async () => (await notes.onPost(target, 10)).notes.map((listedNote) => listedNote.note.uri);
    expect(await helpfulOn()).toBe(1);
    expect(await listed()).toEqual([note.uri]);

    const account = (active: boolean) => ({
      did: writer,
      time_us: recordEvent({ did: writer, collection: Nsid.post, rkey: 'clock' }).time_us,
      kind: 'account',
      account: { active, did: writer, seq: active ? 2 : 1, time: new Date().toISOString(), ...(!active && { status: 'takendown' }) },
    });
    await ingest(account(false));
    expect(await helpfulOn()).toBe(0);
    expect(await listed()).toEqual([]);
    await ingest(account(true));
    expect(await helpfulOn()).toBe(1);
    expect(await listed()).toEqual([note.uri]);
  });

  it("counts a note withdrawn toward its writer's daily limit: deleting the day's first notes lets none of the refused ones in", async () => {
    const writer = 'did:plc:prolific0000000000000000';
    const written = Array.from({ length: 12 }, (_, n) => noteEvent({ did: writer, post: post(`3kprolific${String(n).padStart(3, '0')}`), text: `Note ${n}.` }));
    await ingest(...written.map((note) => note.event));
    // Ten a day (the limit here): the last two are refused.
    expect((await step.run(Date.now(), [])).refused).toBe(2);
    const deletes = written.slice(0, 3).map((note) => recordEvent({ did: writer, collection: Nsid.note, rkey: note.event.commit.rkey }));
    await ingest(...deletes);
    expect((await notes.notes()).filter((note) => note.author === writer)).toHaveLength(9);
    expect((await step.run(Date.now(), [])).refused).toBe(2);
    // The same deletes read again (ingest's rewind after a restart, a batch delivered twice) keep the notes' day.
    await ingest(...deletes);
    expect((await step.run(Date.now(), [])).refused).toBe(2);
  });

  it('ages a rater by when its PLC directory says the account was created, where a backfill read it, else by when the store first saw it', async () => {
    const DAY_US = 86_400_000_000;
    const nowUs = Date.now() * 1000;
    // The store began sixty days ago: an account it first saw today is young by that alone.
    await client.insert({ table: `${database}.first_seen`, values: [['did:plc:storestart0000000000000', nowUs - 60 * DAY_US]], format: 'JSONCompactEachRow' });
    const note = noteEvent({ did: writers[0]!, post: post('3kagedclaim01'), text: 'Context both sides rate.' });
    await ingest(note.event, ...rate(note, [...left, ...right], 'helpful'));
    // Every member of the left was created two years ago (backfilled today); one of the right two days ago.
    await notes.recordCreatedAt([...left.map((did) => ({ did, createdUs: nowUs - 730 * DAY_US })), { did: right[0]!, createdUs: nowUs - 2 * DAY_US }]);
    const aged = new NotesStep({ notes: { ...config.notes, youngAccountDays: 30 } } as AppConfig, notes, new PostRepository(client, database), capturedLogger().logger);
    const stats = await aged.run(Date.now(), []);
    // The six of the right: one by its directory, five first seen today.
    expect(stats.youngRaters).toBe(right.length);
  });
});
