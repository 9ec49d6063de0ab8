import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Nsid } from '#lib/domain';
import { appEntry, recordEvent, startAppProcess, startJetstreamReplayServer, testAppEnv, waitFor, type JetstreamReplayServer, type ServingAppProcess } from '#lib/testing';

const publisher = 'did:plc:publisher0000000000000000';
const member = 'did:plc:member00000000000000000000';
const adminToken = 'backup-test-admin-token-0123456789abcdef';
const restoreEntry = path.join(path.dirname(appEntry), 'restore.js');
const feedUri = `at://${publisher}/app.bsky.feed.generator/newest`;
const curation = `communities:
  members:
    members:
      dids: [${member}]
feeds:
  newest:
    displayName: Newest from members
    communities: [members]
    ranking: recent
`;

const post = (text: string) => recordEvent({ did: member, collection: Nsid.post, record: { text, langs: ['en'], createdAt: new Date().toISOString() } });
const postUri = (event: ReturnType<typeof post>) => `at://${member}/${Nsid.post}/${event.commit.rkey}`;

describe('backing up the embedded store while it serves, and restoring it', () => {
  let dir: string;
  let env: Record<string, string>;
  let replay: JetstreamReplayServer;
  let app: ServingAppProcess | undefined;
  const first = post('before the backup');
  const later = post('after the backup');
  /** An event after it (by someone outside the community): ingest's cursor passes the later post. */
  const tail = recordEvent({ did: 'did:plc:outsider000000000000000000', collection: Nsid.post, record: { text: 'elsewhere', createdAt: new Date().toISOString() } });

  const admin = (method: string, route: string, body?: unknown) =>
    fetch(`${app!.url}/api/admin/${route}`, {
      method,
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
  const feed = async () => {
    const response = await fetch(`${app!.url}/xrpc/app.bsky.feed.getFeedSkeleton?feed=${encodeURIComponent(feedUri)}&limit=50`);
    expect(response.status).toBe(200);
    return ((await response.json()) as { feed: { post: string }[] }).feed.map((item) => item.post);
  };
  const communities = async () => {
    const body = (await (await admin('GET', 'curation')).json()) as { communities: { id: string }[] };
    return body.communities.map((community) => community.id).sort();
  };
  /** Waits for the backup named `name` to end, and says how. */
  const backupEnded = (name: string) =>
    waitFor(`the backup ${name}`, async () => {
      const { backups } = (await (await admin('GET', 'backups')).json()) as { backups: { name: string; kind: string; state: string; error: string | null }[] };
      const backup = backups.find((entry) => entry.name === name && entry.kind === 'backup');
      return backup && backup.state !== 'running' ? backup : undefined;
    });
  const restore = async (...args: string[]) => {
    const child = spawn(process.execPath, [restoreEntry, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const [code] = (await once(child, 'exit')) as [number | null];
    return { code, output };
  };
  const start = async () => (app = await startAppProcess('backups', env));

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'cg-backup-'));
    await writeFile(path.join(dir, 'feeds.yaml'), curation);
    replay = await startJetstreamReplayServer({ events: [first] });
    env = testAppEnv({
      name: 'backups',
      dataDir: path.join(dir, 'data'),
      feedsFile: path.join(dir, 'feeds.yaml'),
      jetstreamUrl: replay.subscribeUrl,
      overrides: {
        CLICKHOUSE_PATH: path.join(dir, 'data', 'clickhouse'),
        FEEDGEN_PUBLISHER_DID: publisher,
        ADMIN_TOKEN: adminToken,
        INGEST_BATCH_MAX_WAIT_MS: '50',
        // Ingest resumes exactly from its cursor: what it reads again after the restore is the restore's doing.
        JETSTREAM_REWIND_SECONDS: '0',
        LOG_LEVEL: 'warn',
      },
    });
    await start();
  });

  afterAll(async () => {
    await app?.process.stop();
    await replay?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('backs up while serving, and a restore brings back the store and what ingest read after the backup', async () => {
    await waitFor('the first post in the feed', async () => ((await feed()).includes(postUri(first)) ? true : undefined));
    expect(await communities()).toEqual(['members']);

    const started = await admin('POST', 'backups', { name: 'nightly.tar.gz' });
    expect(started.status).toBe(202);
    expect(await backupEnded('nightly.tar.gz')).toMatchObject({ state: 'done', error: null });
    // Only what changed since: a backup on a base.
    expect((await admin('POST', 'backups', { name: 'hourly', base: 'nightly.tar.gz' })).status).toBe(202);
    expect(await backupEnded('hourly')).toMatchObject({ state: 'done' });
    // A name that could leave the backup folder, an unknown field and a name taken are refused.
    for (const body of [{ name: '../escape' }, { name: 'a/b' }, { path: '/etc' }, { name: 'nightly.tar.gz' }]) {
      const refused = await admin('POST', 'backups', body);
      expect([refused.status, ((await refused.json()) as { error: string }).error]).toEqual([400, 'InvalidRequest']);
    }
    expect((await fetch(`${app!.url}/api/admin/backups`)).status).toBe(401);
    // The store is held by the running app: a restore is refused, and says why.
    expect(await restore('nightly.tar.gz', '--replace')).toEqual({ code: 1, output: expect.stringMatching(/is in use: stop the app first/) });

    // After the backup: the curation changes, and ingest reads a newer post.
    expect((await admin('PUT', 'communities/newcomers', { members: { dids: [member] } })).status).toBe(200);
    replay.push(later, tail);
    await waitFor('the later post in the feed', async () => ((await feed()).includes(postUri(later)) ? true : undefined));
    const cursorFile = path.join(dir, 'data', 'ingest-cursor.json');
    await waitFor('the cursor past the later post', async () => {
      const saved = JSON.parse(await readFile(cursorFile, 'utf8').catch(() => '{}')) as { cursorUs?: number };
      return (saved.cursorUs ?? 0) >= tail.time_us ? true : undefined;
    });
    await app!.process.stop();
    app = undefined;

    // A store that holds tables is replaced only when asked to.
    const kept = await restore('nightly.tar.gz');
    expect(kept.code).toBe(1);
    expect(kept.output).toMatch(/holds \d+ tables.*--replace/);
    // A restore that fails leaves the store as it was.
    const failed = await restore('missing-backup', '--replace');
    expect(failed.code).toBe(1);
    expect(failed.output).toMatch(/restoring missing-backup failed.*not found/);
    await start();
    expect(await communities()).toEqual(['members', 'newcomers']);
    await app!.process.stop();
    app = undefined;

    const restored = await restore('nightly.tar.gz', '--replace');
    expect(restored).toMatchObject({ code: 0 });
    expect(restored.output).toContain('restored');
    // Ingest is taken back to the newest event the backup holds: the first post.
    const cursor = JSON.parse(await readFile(cursorFile, 'utf8')) as { cursorUs: number };
    expect(cursor.cursorUs).toBe(first.time_us);
    expect(restored.output).toContain(`ingest resumes from ${new Date(first.time_us / 1000).toISOString()}`);

    await start();
    // The curation is the backup's, and ingest reads again from Jetstream the post that came after it.
    expect(await communities()).toEqual(['members']);
    await waitFor('the later post read again', async () => ((await feed()).includes(postUri(later)) ? true : undefined));
    expect(await feed()).toEqual([postUri(later), postUri(first)]);

    // On a new machine (no cursor beside the store), the restore writes one at the backup's newest event.
    await app!.process.stop();
    app = undefined;
    await rm(cursorFile);
    expect(await restore('nightly.tar.gz', '--replace')).toMatchObject({ code: 0 });
    expect((JSON.parse(await readFile(cursorFile, 'utf8')) as { cursorUs: number }).cursorUs).toBe(first.time_us);
    // Nothing was interrupted: nothing to put back.
    expect((await restore('--put-back')).output).toContain('nothing to put back');
  });
});
