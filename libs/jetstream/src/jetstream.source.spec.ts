import { afterEach, describe, expect, it } from '@jest/globals';
import { isJetstreamTimeUs, wantedCollections, type JetstreamEvent } from '#lib/domain';
import { generateJetstreamEvents, RawLine, startJetstreamReplayServer, waitFor, type JetstreamReplayServer, type ReplayItem } from '#lib/testing';
import { RawFrame } from '../../testing/src/jetstream-replay.server.js';
import { JetstreamSource } from './jetstream.source.js';

// @NOTE A real local Jetstream (the replay server) over a real WebSocket: the source takes each
// frame from its socket itself, so what matters is what reaches it, in which order, and from
// where a reconnect resumes.

const startUs = 1_732_000_000_000_000;

interface Run {
  source: JetstreamSource;
  events: { time_us: number }[];
  malformed: { reason: string; afterUs: number | undefined }[];
  states: string[];
}

const servers: JetstreamReplayServer[] = [];
const sources: JetstreamSource[] = [];

afterEach(async () => {
  for (const source of sources.splice(0)) source.stop();
  for (const server of servers.splice(0)) await server.close();
});

async function serve(options: Parameters<typeof startJetstreamReplayServer>[0]): Promise<JetstreamReplayServer> {
  const server = await startJetstreamReplayServer(options);
  servers.push(server);
  return server;
}

/**
 * A source with no turn budget (its socket pauses after every read) on a server with `events`
 * queued at once, megabytes waiting in the socket as for ingest catching up; started, and the
 * server sending.
 */
async function pausingEveryRead(
  events: ReplayItem[],
  onEvent: (raw: unknown, source: JetstreamSource) => void,
): Promise<{ server: JetstreamReplayServer; source: JetstreamSource }> {
  const server = await serve({ events, startPaused: true, highWaterMarkBytes: 64 * 1024 * 1024 });
  const source: JetstreamSource = new JetstreamSource({
    url: server.subscribeUrl,
    wantedCollections,
    onEvent: (raw) => onEvent(raw, source),
    onMalformedFrame: () => undefined,
    turnBudgetMs: 0,
  });
  sources.push(source);
  source.start();
  await server.waitForConnections(1);
  server.resume();
  return { server, source };
}

function subscribe(server: JetstreamReplayServer, cursorUs?: number): Run {
  const events: Run['events'] = [];
  const malformed: Run['malformed'] = [];
  const states: Run['states'] = [];
  const source = new JetstreamSource({
    url: server.subscribeUrl,
    wantedCollections,
    cursorUs,
    onEvent: (raw) => events.push(raw as { time_us: number }),
    onMalformedFrame: (reason, afterUs) => malformed.push({ reason, afterUs }),
    onConnection: (state) => states.push(state),
  });
  sources.push(source);
  source.start();
  return { source, events, malformed, states };
}

const timesOf = (items: readonly ReplayItem[]): number[] => items.flatMap((item) => (item instanceof RawLine || item instanceof RawFrame ? [] : [item.time_us]));

describe('JetstreamSource', () => {
  it('hands over every frame once and in order, and reports text that is not JSON or not UTF-8 and binary frames without stopping', async () => {
    const { events } = generateJetstreamEvents({ seed: 5, users: 40, events: 200, startUs, mix: { other: 0 } });
    const afterTenth = (events[9] as JetstreamEvent).time_us;
    const items: ReplayItem[] = [
      ...events.slice(0, 10),
      new RawLine('{"did": "did:plc:cut', afterTenth),
      new RawFrame(Buffer.from([0x7b, 0x00, 0xff]), { binary: true, timeUs: afterTenth }),
      // A text frame that is not UTF-8: `ws` would close the connection on it, and every reconnect would meet it again.
      new RawFrame(Buffer.from([0x7b, 0x22, 0x78, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d]), { timeUs: afterTenth }),
      ...events.slice(10),
    ];
    const server = await serve({ events: items });
    const run = subscribe(server);

    await waitFor('every event', () => run.events.length >= events.length || undefined, 20_000);
    expect(run.events.map((event) => event.time_us)).toEqual(timesOf(events));
    expect(run.malformed).toHaveLength(3);
    expect(run.malformed.map((frame) => frame.afterUs)).toEqual([afterTenth, afterTenth, afterTenth]);
    expect(run.malformed[1]!.reason).toMatch(/binary/);
    expect(run.malformed[2]!.reason).toMatch(/not UTF-8/);
    expect(run.source.cursorUs).toBe(timesOf(events).at(-1));
    expect(run.states).toContain('open');
  }, 30_000);

  it('pausing for a turn of the event loop after every read, loses and reorders no frame', async () => {
    const { events } = generateJetstreamEvents({ seed: 7, users: 200, events: 6_000, startUs, mix: { other: 0 } });
    const received: number[] = [];
    await pausingEveryRead(events, (raw) => received.push((raw as { time_us: number }).time_us));
    // A socket never resumed would stall here.
    await waitFor('every event', () => received.length >= events.length || undefined, 30_000);
    expect(received).toEqual(timesOf(events));
  }, 40_000);

  it('stopped while its socket waits for the next turn, closes the connection at once', async () => {
    const { events } = generateJetstreamEvents({ seed: 8, users: 50, events: 2_000, startUs, mix: { other: 0 } });
    let received = 0;
    // With no budget, the second frame of a turn pauses the socket; stopping then is the case.
    const { server } = await pausingEveryRead(events, (_raw, source) => {
      received += 1;
      if (received === 2) source.stop();
    });
    // A socket left paused would not read the server's answer, and would close only after 30 s.
    await waitFor('the connection closed', () => server.connections()[0]?.open === false || undefined, 5_000);
    expect(received).toBeGreaterThanOrEqual(2);
  }, 20_000);

  it('reconnects after a dropped connection and resumes from the last event it received', async () => {
    const { events } = generateJetstreamEvents({ seed: 6, users: 40, events: 300, startUs, mix: { other: 0 } });
    const server = await serve({ events, dropAfterFrames: [120] });
    const run = subscribe(server);

    await waitFor('every event after the reconnect', () => run.events.length >= events.length + 1 || undefined, 30_000);
    const [first, second] = server.connections();
    expect(first).toMatchObject({ dropped: true, sent: 120 });
    const lastBeforeDrop = (events[119] as JetstreamEvent).time_us;
    expect(second).toMatchObject({ cursor: lastBeforeDrop, cursorClamped: false });
    // At least once: the event at the cursor comes again, nothing is lost or reordered.
    const times = run.events.map((event) => event.time_us);
    expect(times).toHaveLength(events.length + 1);
    expect([...new Set(times)]).toEqual(timesOf(events));
    expect(run.states.filter((state) => state === 'open')).toHaveLength(2);
  }, 40_000);

  it('asks for its cursor, and a frame with a time_us out of range or from the future never moves it', async () => {
    const { events } = generateJetstreamEvents({ seed: 7, users: 20, events: 40, startUs, mix: { other: 0 } });
    const cursorUs = (events[19] as JetstreamEvent).time_us;
    const lastUs = (events.at(-1) as JetstreamEvent).time_us;
    const tomorrowUs = (Date.now() + 86_400_000) * 1000;
    const hostile = [1e300, 9e15, tomorrowUs].map((timeUs) => new RawLine(JSON.stringify({ did: 'did:plc:ewvi7nxzyoun6zhxrhs64oiz', time_us: timeUs, kind: 'commit' }), lastUs));
    const server = await serve({ events: [...events, ...hostile] });
    const run = subscribe(server, cursorUs);

    await waitFor('the frames from the cursor on', () => run.events.length >= 24 || undefined, 20_000);
    expect(server.connections()[0]).toMatchObject({ cursor: cursorUs });
    expect(run.events[0]!.time_us).toBe(cursorUs);
    expect(run.events.slice(-3).map((event) => event.time_us)).toEqual([1e300, 9e15, tomorrowUs]);
    expect(isJetstreamTimeUs(run.source.cursorUs)).toBe(true);
    expect(run.source.cursorUs).toBe(lastUs);
  }, 30_000);
});
