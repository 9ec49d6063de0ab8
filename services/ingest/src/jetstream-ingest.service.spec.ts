import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { InProcessBus } from '#lib/bus';
import { loadConfig } from '#lib/config';
import { Topics, type PipelineEventV1 } from '#lib/contracts';
import { Nsid, type JetstreamEvent } from '#lib/domain';
import { Metrics } from '#lib/platform';
import { capturedLogger, generateJetstreamEvents, RawLine, startJetstreamReplayServer, waitFor, type JetstreamReplayServer, type ReplayItem } from '#lib/testing';
import { CursorFileError } from './cursor.store.js';
import { JetstreamIngestService } from './jetstream-ingest.service.js';

// @NOTE The service as the app runs it, over a real in-process bus, a real local Jetstream (the
// replay server) and real files; only the Nest container is left out.

const startUs = 1_732_000_000_000_000;
const stops: (() => Promise<void>)[] = [];
let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'cg-ingest-'));
});

afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop();
  await rm(dir, { recursive: true, force: true });
});

async function serve(options: Parameters<typeof startJetstreamReplayServer>[0]): Promise<JetstreamReplayServer> {
  const replay = await startJetstreamReplayServer(options);
  stops.push(() => replay.close());
  return replay;
}

/** Starts ingest from Jetstream `items` into a bus whose events the test reads. */
async function startIngest(cursorFile: string, items: readonly ReplayItem[]) {
  const replay = await serve({ events: items });
  const bus = new InProcessBus();
  const published: PipelineEventV1[] = [];
  const subscription = await bus.subscribe({
    groupId: 'ingest-spec',
    topics: [Topics.events],
    handler: async (batch) => {
      for (const message of batch.messages) published.push(message.decoded as PipelineEventV1);
    },
  });
  stops.push(() => subscription.stop());
  const { logger, lines } = capturedLogger('info');
  const config = loadConfig({ JETSTREAM_URL: replay.subscribeUrl, INGEST_CURSOR_FILE: cursorFile, INGEST_BATCH_MAX_WAIT_MS: '20', JETSTREAM_REWIND_SECONDS: '0' });
  const ingest = new JetstreamIngestService(config, bus, logger, new Metrics({ processMetrics: false }));
  const starting = ingest.onApplicationBootstrap();
  stops.push(() => ingest.onModuleDestroy());
  return { ingest, published, lines, starting, replay };
}

const savedCursor = async (file: string) => (JSON.parse(await readFile(file, 'utf8')) as { cursorUs: number }).cursorUs;

describe('JetstreamIngestService and its cursor', () => {
  it('keeps ingesting while the cursor cannot be saved, keeps the checkpoint where it was, and saves it once it can', async () => {
    const { events, counts } = generateJetstreamEvents({ seed: 11, users: 30, events: 300, startUs, mix: { other: 0 } });
    const lastUs = (events.at(-1) as JetstreamEvent).time_us;
    // A folder where the save writes its temporary file: every save fails (EISDIR), as on a full or read-only disk.
    const cursorFile = path.join(dir, 'ingest-cursor.json');
    const blocker = `${cursorFile}.${process.pid}.tmp`;
    await mkdir(blocker);
    const run = await startIngest(cursorFile, events);
    await run.starting;

    await waitFor('every event published', () => run.published.length >= counts.mappable || undefined, 20_000);
    await waitFor('two failed saves', () => run.lines.filter((line) => line.msg === 'could not save the Jetstream cursor; the checkpoint stays where it was, retrying').length >= 2 || undefined, 20_000);
    expect(run.ingest.stats.checkpointUs).toBeUndefined();
    expect(run.lines.find((line) => line.level === 50)).toMatchObject({ file: cursorFile, attempt: 1, err: expect.stringContaining('EISDIR') });

    await rm(blocker, { recursive: true });
    await waitFor('the checkpoint at the last event', () => run.ingest.stats.checkpointUs === lastUs || undefined, 20_000);
    expect(await savedCursor(cursorFile)).toBe(lastUs);
    expect(run.published).toHaveLength(counts.mappable);
  }, 60_000);

  it('refuses to start from a damaged cursor file, saying so in the log, and leaves the file as it is', async () => {
    const cursorFile = path.join(dir, 'ingest-cursor.json');
    await writeFile(cursorFile, '{"cursorUs":17320000');
    const run = await startIngest(cursorFile, []);
    await expect(run.starting).rejects.toThrow(CursorFileError);
    expect(run.lines).toContainEqual(expect.objectContaining({ level: 50, msg: 'ingest cannot start: the saved cursor is unreadable', file: cursorFile }));
    expect(await readFile(cursorFile, 'utf8')).toBe('{"cursorUs":17320000');
  });

  it('reports a gap when, after a reconnect, Jetstream no longer holds the events since the last one received', async () => {
    // 400 events 9 s apart: the first 100 are read, then Jetstream is away while 30 minutes pass.
    const { events } = generateJetstreamEvents({ seed: 13, users: 30, events: 400, startUs, mix: { other: 0 } });
    const timeOf = (i: number) => (events[i] as JetstreamEvent).time_us;
    const run = await startIngest(path.join(dir, 'ingest-cursor.json'), events.slice(0, 100));
    await run.starting;
    await waitFor('the checkpoint at the 100th event', () => run.ingest.stats.checkpointUs === timeOf(99) || undefined, 20_000);
    expect(run.ingest.stats.gaps).toBe(0);

    // It comes back on the same address retaining only the last 100: the 200 in between are gone.
    await run.replay.close();
    const restarted = await serve({ events, port: run.replay.port, retentionStartUs: timeOf(300) });
    await waitFor('the events after the reconnect', () => run.ingest.stats.checkpointUs === timeOf(399) || undefined, 30_000);
    expect(restarted.connections()[0]).toMatchObject({ cursor: timeOf(99), cursorClamped: true });
    expect(run.ingest.stats.gaps).toBe(1);
    expect(run.lines).toContainEqual(
      expect.objectContaining({
        level: 50,
        msg: expect.stringContaining('gap in the event stream'),
        requestedCursorUs: timeOf(99),
        firstEventUs: timeOf(300),
      }),
    );
  }, 60_000);

  it('counts an edit it refuses as malformed, says so in the log, and publishes the record\'s delete in its place, so that its earlier version is withdrawn', async () => {
    const did = 'did:plc:ewvi7nxzyoun6zhxrhs64oiz';
    const pledge = (timeUs: number, operation: 'create' | 'update', amount: number): JetstreamEvent => ({
      did,
      time_us: timeUs,
      kind: 'commit',
      commit: {
        rev: '3kpledgerev00',
        operation,
        collection: Nsid.pledge,
        rkey: '3kpledge00001',
        cid: 'bafyreipledge',
        record: { $type: Nsid.pledge, subject: { uri: `at://${did}/${Nsid.post}/3kpost0000001`, cid: 'bafyreipost' }, community: 'climate', amount, createdAt: '2024-11-19T07:06:40.000Z' },
      },
    });
    const reason = 'record.amount is not a whole number of credits from 1 to 1000000';
    const run = await startIngest(path.join(dir, 'ingest-cursor.json'), [pledge(startUs, 'create', 50), pledge(startUs + 1, 'update', 0)]);
    await run.starting;

    await waitFor('the checkpoint at the edit', () => run.ingest.stats.checkpointUs === startUs + 1 || undefined, 20_000);
    expect(run.published).toMatchObject([
      { type: 'pledge', op: 'create', timeUs: startUs, amount: 50 },
      { type: 'pledge', op: 'delete', timeUs: startUs + 1, rkey: '3kpledge00001' },
    ]);
    expect(Object.fromEntries(run.ingest.stats.malformedByReason)).toEqual({ [reason]: 1 });
    expect(run.lines).toContainEqual(expect.objectContaining({ level: 40, msg: 'refused a malformed edit of a record; its earlier version is withdrawn', did, reason, type: 'pledge', rkey: '3kpledge00001' }));
  }, 60_000);

  it('counts an event stamped in the future as malformed, publishes nothing of it, and never moves the checkpoint to its time', async () => {
    const { events, counts } = generateJetstreamEvents({ seed: 12, users: 20, events: 100, startUs, mix: { other: 0 } });
    const lastUs = (events.at(-1) as JetstreamEvent).time_us;
    const future = (timeUs: number) =>
      new RawLine(JSON.stringify({ did: 'did:plc:ewvi7nxzyoun6zhxrhs64oiz', time_us: timeUs, kind: 'identity', identity: { did: 'did:plc:ewvi7nxzyoun6zhxrhs64oiz', handle: 'x.test' } }), lastUs);
    const cursorFile = path.join(dir, 'ingest-cursor.json');
    const run = await startIngest(cursorFile, [...events, future(9e15), future((Date.now() + 86_400_000) * 1000)]);
    await run.starting;

    await waitFor('the checkpoint at the last event and both frames counted', () => (run.ingest.stats.checkpointUs === lastUs && run.ingest.stats.malformed === 2) || undefined, 20_000);
    expect(Object.fromEntries(run.ingest.stats.malformedByReason)).toEqual({ 'time_us is in the future': 2 });
    expect(run.published).toHaveLength(counts.mappable);
    expect(await savedCursor(cursorFile)).toBe(lastUs);
  }, 60_000);
});
