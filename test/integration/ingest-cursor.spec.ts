import { readFile } from 'node:fs/promises';
import { generateJetstreamEvents, RawLine, startJetstreamReplayServer, startTestApp, waitFor, type JetstreamReplayServer, type ReplayItem, type TestApp } from '#lib/testing';

interface Status {
  ingest: { gaps: number; published: number; malformed: number; checkpointUs: number | null };
  store: { events: number };
}

describe('the Jetstream cursor', () => {
  const generated = generateJetstreamEvents({
    seed: 21,
    users: 200,
    events: 3_000,
    startUs: (Date.now() - 3_600_000) * 1000,
    durationSec: 600,
    mix: { other: 0 },
  });
  const events = generated.events as { time_us: number }[];
  let replay: JetstreamReplayServer | undefined;
  let running: TestApp | undefined;

  const start = async (savedCursorUs: number, retentionStartUs?: number, items: readonly ReplayItem[] = generated.events) => {
    replay = await startJetstreamReplayServer({ events: items, retentionStartUs });
    running = await startTestApp({
      name: 'cursor',
      feeds: 'communities: {}\nfeeds: {}\n',
      files: { 'ingest-cursor.json': JSON.stringify({ cursorUs: savedCursorUs, savedAt: new Date().toISOString() }) },
      jetstreamUrl: replay.subscribeUrl,
      overrides: {
        JETSTREAM_REWIND_SECONDS: '5',
        INGEST_BATCH_MAX_WAIT_MS: '50',
      },
    });
  };
  const status = async () => (await (await fetch(`${running!.opsUrl}/status`)).json()) as Status;
  const savedCursor = async () => JSON.parse(await readFile(running!.config.ingest.cursorFile, 'utf8')) as { cursorUs: number };

  afterEach(async () => {
    await running?.close();
    await replay?.close();
  });

  it('resumes a few seconds before the saved cursor and saves the newest acknowledged position', async () => {
    const saved = events[1_500]!.time_us;
    await start(saved);
    await waitFor('the rest of the stream', async () => ((await status()).store.events > 0 ? true : undefined));
    expect(replay!.connections()[0]!.cursor).toBe(saved - 5_000_000);
    const last = events.at(-1)!.time_us;
    await waitFor('the checkpoint at the last event', async () => (await status()).ingest.checkpointUs === last);
    expect((await savedCursor()).cursorUs).toBe(last);
    expect((await status()).ingest.gaps).toBe(0);
  });

  it('reports a gap when the saved cursor is older than the events the server still has', async () => {
    const retentionStartUs = events[1_000]!.time_us;
    await start(events[0]!.time_us - 600_000_000, retentionStartUs);
    const reported = await waitFor('a gap', async () => ((await status()).ingest.gaps > 0 ? status() : undefined));
    expect(reported.ingest.gaps).toBe(1);
    expect(replay!.connections()[0]!.cursorClamped).toBe(true);
  });

  it('skips a null frame and frames with an out-of-range time_us, and never moves the cursor to their time', async () => {
    const last = events.at(-1)!.time_us;
    const hostile = [
      new RawLine('null', last),
      new RawLine(JSON.stringify({ did: 'did:plc:fuzz', time_us: 2 ** 60, kind: 'identity', identity: { did: 'did:plc:fuzz' } }), last),
      new RawLine(JSON.stringify({ did: 'did:plc:fuzz', time_us: 1e300, kind: 'account', account: { active: true } }), last),
    ];
    await start(events[0]!.time_us, undefined, [...generated.events, ...hostile]);
    const settled = await waitFor('every event and the hostile frames', async () => {
      const current = await status();
      return current.ingest.malformed >= hostile.length && current.ingest.checkpointUs === last ? current : undefined;
    });
    expect(settled.ingest.malformed).toBe(hostile.length);
    await waitFor('every event stored', async () => (await status()).store.events === generated.counts.mappable);
    expect((await savedCursor()).cursorUs).toBe(last);
  });
});
