import { setTimeout as sleep } from 'node:timers/promises';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { freePort, generateJetstreamEvents, startJetstreamReplayServer, writeJsonl, type JetstreamReplayServer, waitFor } from '#lib/testing';

const root = path.resolve(import.meta.dirname, '../..');
const node = path.join(root, 'node_modules', '.bin', 'node');
const main = path.join(root, 'dist', 'services', 'app', 'src', 'main.js');

interface Status {
  ingest: { published: number; checkpointUs: number | null };
  store: { events: number; posts: number };
}


describe('embedded mode survives SIGKILL mid-replay', () => {
  const generated = generateJetstreamEvents({
    seed: 11,
    users: 2_000,
    events: 60_000,
    startUs: (Date.now() - 7_200_000) * 1000,
    durationSec: 3_600,
    malformedEvery: 1_000,
  });
  let dir: string;
  let replay: JetstreamReplayServer;
  let child: ChildProcess | undefined;
  let port: number;
  let opsPort: number;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'cg-crash-'));
    const file = path.join(dir, 'events.jsonl');
    await writeJsonl(file, generated.events);
    await writeFile(path.join(dir, 'feeds.yaml'), 'communities: {}\nfeeds: {}\n');
    // Paced, so that the kill lands in the middle of the replay.
    replay = await startJetstreamReplayServer({ events: file, pace: { eventsPerSecond: 15_000 } });
    port = await freePort();
    opsPort = await freePort();
  });

  afterAll(async () => {
    child?.kill('SIGKILL');
    await replay?.close();
    await rm(dir, { recursive: true, force: true });
  });

  function start(): ChildProcess {
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      DATA_DIR: path.join(dir, 'data'),
      JETSTREAM_URL: replay.subscribeUrl,
      FEEDS_FILE: path.join(dir, 'feeds.yaml'),
      HTTP_PORT: String(port),
      HTTP_BIND_HOST: '127.0.0.1',
      OPS_PORT: String(opsPort),
      INGEST_BATCH_SIZE: '2000',
      INGEST_BATCH_MAX_WAIT_MS: '200',
      LOG_LEVEL: 'warn',
    };
    const process_ = spawn(node, [main], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    process_.stderr.on('data', () => undefined);
    return process_;
  }

  const status = async (): Promise<Status> => {
    const response = await fetch(`http://127.0.0.1:${opsPort}/status`);
    if (!response.ok) throw new Error(`status ${response.status}`);
    return (await response.json()) as Status;
  };

  it('finds every event of the file in ClickHouse exactly once after a restart', async () => {
    child = start();
    const before = await waitFor('some batches acknowledged', async () => {
      const current = await status();
      return current.ingest.published >= 10_000 ? current : undefined;
    });
    expect(before.store.events).toBeLessThan(generated.counts.mappable);
    child.kill('SIGKILL');
    await new Promise((resolve) => child!.once('exit', resolve));

    child = start();
    const after = await waitFor('every event after the restart', async () => {
      const current = await status();
      return current.store.events >= generated.counts.mappable ? current : undefined;
    });
    // Let any re-delivered overlap land, then count again: still exactly once.
    await sleep(1_500);
    const settled = await status();
    expect(after.store.events).toBe(generated.counts.mappable);
    expect(settled.store.events).toBe(generated.counts.mappable);
    const { post, reply, quote, deletes, erasedPosts } = generated.counts;
    expect(settled.store.posts).toBe(post + reply + quote - deletes.post - erasedPosts);

    child.kill('SIGTERM');
    const code = await new Promise((resolve) => child!.once('exit', resolve));
    expect(code).toBe(0);
    child = undefined;
  });
});
