import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { jest } from '@jest/globals';
import { AtpAgent } from '@atproto/api';
import { Secp256k1Keypair } from '@atproto/crypto';
import { NoteRepository } from '#lib/clickhouse';
import { loadConfig } from '#lib/config';
import { Nsid } from '#lib/domain';
import { verifyLabel, type Label } from '#lib/labels';
import { noteEvent, noteRequestEvent, ratingEvent, recordEvent, startJetstreamReplayServer, testAppEnv, waitFor, type JetstreamReplayServer } from '#lib/testing';
import { startApp, type RunningApp } from '../../services/app/src/app.factory.js';
import { NotesStep } from '../../services/scoring/src/notes.step.js';
import { ScoreSnapshotJob } from '../../services/scoring/src/score-snapshot.job.js';

const publisher = 'did:plc:publisher0000000000000000';
const labeler = 'did:web:localhost';
const author = 'did:plc:author000000000000000000';
const camp = (name: string, size: number) => Array.from({ length: size }, (_, i) => `did:plc:${name}${String(i).padStart(20, '0')}`);
const left = camp('left', 6);
const right = camp('right', 6);
const writers = camp('writer', 5);
const adminToken = 'notes-admin-token-0123456789abcdef0123456789';

const curation = `
communities:
  left:
    members: { dids: [${left.join(', ')}] }
  right:
    members: { dids: [${right.join(', ')}] }
feeds:
  careful:
    displayName: Careful
    communities: [left, right]
    ranking: bridging
    exclude: [readers-added-context]
  open:
    displayName: Open
    communities: [left, right]
    ranking: bridging
`;

const post = (rkey: string) => recordEvent({ did: author, collection: Nsid.post, rkey, record: { text: `post ${rkey}`, langs: ['en'], createdAt: new Date().toISOString() } });
const postUri = (rkey: string) => `at://${author}/${Nsid.post}/${rkey}`;
const likesOf = (target: ReturnType<typeof post>, actors: readonly string[]) =>
  actors.map((did) => recordEvent({ did, collection: Nsid.like, record: { subject: { uri: postUri(target.commit.rkey), cid: target.commit.cid }, createdAt: new Date().toISOString() } }));

describe('context notes through the real pipeline: records, scoring, labels, the notes page and the feeds', () => {
  let dir: string;
  let replay: JetstreamReplayServer;
  let running: RunningApp;
  let key: Secp256k1Keypair;
  const posts = { misleading: post('3kmisleading01'), partisan: post('3kpartisan001') };
  // Notes on the two posts, and two notes that split the raters (each side finds one helpful, the other side not).
  // The note names no version of the post: its label takes the version in the store.
  const bridged = noteEvent({ did: writers[0]!, post: postUri('3kmisleading01'), text: 'The chart is from 2015, not this year.' });
  const oneSided = noteEvent({ did: writers[1]!, post: postUri('3kpartisan001'), text: 'Only one side finds this note helpful.' });
  const leftNote = noteEvent({ did: writers[2]!, post: postUri('3kleftclaim01'), text: 'A note the left likes.' });
  const rightNote = noteEvent({ did: writers[3]!, post: postUri('3krightclaim1'), text: 'A note the right likes.' });
  const rate = (note: { uri: string; cid: string }, raters: readonly string[], helpfulness: 'helpful' | 'not_helpful') =>
    raters.map((did) => ratingEvent({ did, note, helpfulness }));
  const bridgedRatings = [...rate(bridged, left.slice(0, 3), 'helpful'), ...rate(bridged, right.slice(0, 2), 'helpful')];
  const snapshot = () => running.app.get(ScoreSnapshotJob).runOnce();
  const statusOf = async (note: string) => (await running.app.get(NoteRepository).statuses([note]))[0]?.status;
  const feed = async (name: string) => {
    const response = await fetch(`${running.url}/xrpc/app.bsky.feed.getFeedSkeleton?feed=${encodeURIComponent(`at://${publisher}/app.bsky.feed.generator/${name}`)}&limit=50`);
    expect(response.status).toBe(200);
    return ((await response.json()) as { feed: { post: string }[] }).feed.map((item) => item.post);
  };
  const noteLabels = async () => {
    const { data } = await new AtpAgent({ service: running.url }).com.atproto.label.queryLabels({ uriPatterns: ['*'] });
    return data.labels.filter((label) => label.val === 'readers-added-context');
  };

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'cg-notes-'));
    await writeFile(path.join(dir, 'feeds.yaml'), curation);
    key = await Secp256k1Keypair.create({ exportable: true });
    replay = await startJetstreamReplayServer({
      events: [
        posts.misleading,
        posts.partisan,
        ...likesOf(posts.misleading, [...left, ...right]),
        ...likesOf(posts.partisan, [...left, ...right]),
        bridged.event,
        oneSided.event,
        leftNote.event,
        rightNote.event,
        ...rate(leftNote, left, 'helpful'),
        ...rate(leftNote, right, 'not_helpful'),
        ...rate(rightNote, right, 'helpful'),
        ...rate(rightNote, left, 'not_helpful'),
        ...bridgedRatings,
        ...rate(oneSided, left, 'helpful'),
      ],
    });
    running = await startApp(
      loadConfig(
        testAppEnv({
          name: 'notes',
          dataDir: dir,
          feedsFile: path.join(dir, 'feeds.yaml'),
          jetstreamUrl: replay.subscribeUrl,
          overrides: {
            FEEDGEN_PUBLISHER_DID: publisher,
            SCORING_SNAPSHOTS: 'false',
            LABELER_DID: labeler,
            LABELER_SIGNING_KEY: Buffer.from(await key.export()).toString('hex'),
            ADMIN_TOKEN: adminToken,
            INGEST_BATCH_MAX_WAIT_MS: '50',
            NOTES_PROPOSALS_PER_DAY: '1',
          },
        }),
      ),
    );
    const notes = running.app.get(NoteRepository);
    await waitFor('the notes and ratings in ClickHouse', async () => ((await notes.ratings()).length === 35 ? true : undefined));
    await snapshot();
  });

  afterAll(async () => {
    await running?.close();
    await replay?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('makes a note rated helpful on both sides helpful, and serves it as a signed readers-added-context label', async () => {
    expect(await statusOf(bridged.uri)).toBe('helpful');
    const labels = await noteLabels();
    expect(labels.map((label) => label.uri)).toEqual([postUri('3kmisleading01')]);
    expect(labels[0]).toMatchObject({ src: labeler, cid: posts.misleading.commit.cid });
    expect(await verifyLabel(labels[0] as Label, key.did())).toBe(true);
    expect(await verifyLabel({ ...(labels[0] as Label), val: 'common-ground' }, key.did())).toBe(false);
  });

  it('keeps a note rated helpful by one side only at needs more ratings, with no label', async () => {
    expect(await statusOf(oneSided.uri)).toBe('needs-more-ratings');
    expect((await noteLabels()).map((label) => label.uri)).not.toContain(postUri('3kpartisan001'));
  });

  it('leaves out the post of a helpful misleading note in the feed that excludes the label, and only there', async () => {
    expect(await feed('careful')).not.toContain(postUri('3kmisleading01'));
    expect(await feed('careful')).toContain(postUri('3kpartisan001'));
    expect(await feed('open')).toContain(postUri('3kmisleading01'));
  });

  it('shows the notes of a post on its public page and as JSON', async () => {
    const page = await fetch(`${running.url}/notes?post=${encodeURIComponent(postUri('3kmisleading01'))}`);
    expect(page.status).toBe(200);
    // Nothing but the page's own style sheet, named by its hash.
    expect(page.headers.get('content-security-policy')).toMatch(/^default-src 'none'; style-src 'sha256-[\w+/]+=*'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'$/);
    const html = await page.text();
    expect(html).toContain('<h2 id="helpful">Readers added context</h2>');
    expect(html).toContain('The chart is from 2015, not this year.');
    const json = (await (await fetch(`${running.url}/api/notes?post=${encodeURIComponent(postUri('3kmisleading01'))}`)).json()) as {
      label: unknown;
      notes: { uri: string; status: string; misleading: boolean }[];
      changes: { to: string }[];
    };
    expect(json.label).toEqual({ src: labeler, val: 'readers-added-context' });
    expect(json.notes).toMatchObject([{ uri: bridged.uri, status: 'helpful', misleading: true }]);
    expect(json.changes.map((change) => change.to)).toEqual(['helpful']);
    const bad = await fetch(`${running.url}/api/notes?post=${encodeURIComponent('at://did:plc:x/app.bsky.graph.list/3k')}`);
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain('must be the at-uri of a post');
  });

  it('does not score a writer\'s notes beyond the daily limit', async () => {
    const extra = noteEvent({ did: writers[0]!, post: postUri('3kpartisan001'), text: 'A second note the same day.' });
    replay.push(extra.event, ...rate(extra, [...left, ...right], 'helpful'));
    const notes = running.app.get(NoteRepository);
    await waitFor('the extra ratings', async () => ((await notes.ratings([extra.uri])).length === 12 ? true : undefined));
    await snapshot();
    expect(await statusOf(extra.uri)).toBeUndefined();
    expect((await noteLabels()).map((label) => label.uri)).not.toContain(postUri('3kpartisan001'));
  });

  it('queues posts for note writers from request records and from the console', async () => {
    replay.push(noteRequestEvent({ did: left[0]!, post: postUri('3kpartisan001') }), noteRequestEvent({ did: right[0]!, post: postUri('3kpartisan001') }));
    const asked = await fetch(`${running.url}/api/admin/notes/requests`, {
      method: 'POST',
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ post: postUri('3kquiet000001') }),
    });
    expect(asked.status).toBe(202);
    const queue = await waitFor('the requests', async () => {
      const { requested } = (await (await fetch(`${running.url}/api/notes/requests`)).json()) as { requested: { post: string; requests: number; notes: number }[] };
      return requested.length === 2 ? requested : undefined;
    });
    expect(queue).toMatchObject([
      { post: postUri('3kpartisan001'), requests: 2, notes: 2 },
      { post: postUri('3kquiet000001'), requests: 1, notes: 0 },
    ]);
    const panel = await fetch(`${running.url}/api/admin/console/notes`, { headers: { authorization: `Bearer ${adminToken}` } });
    expect(((await panel.json()) as { helpful: number; requested: unknown[] })).toMatchObject({ helpful: 1, requested: queue });
  });

  it('changes the result at the next run when a rating is deleted, and negates the label', async () => {
    const withdrawn = bridgedRatings.at(-1)!;
    replay.push(ratingEvent({ did: withdrawn.did, note: bridged, rkey: withdrawn.commit.rkey }));
    const notes = running.app.get(NoteRepository);
    await waitFor('the rating withdrawn', async () => ((await notes.ratings([bridged.uri])).length === bridgedRatings.length - 1 ? true : undefined));
    await snapshot();
    expect(await statusOf(bridged.uri)).toBe('needs-more-ratings');
    const { data } = await new AtpAgent({ service: running.url }).com.atproto.label.queryLabels({ uriPatterns: [postUri('3kmisleading01')] });
    const negation = data.labels.find((label) => label.val === 'readers-added-context' && label.neg === true);
    expect(negation).toBeDefined();
    expect(await verifyLabel(negation as Label, key.did())).toBe(true);
    // The feed generator takes the new snapshot when it next looks.
    await waitFor('the post back in the careful feed', async () => ((await feed('careful')).includes(postUri('3kmisleading01')) ? true : undefined));
    const changes = await notes.changes(10, [bridged.uri]);
    expect(changes[0]).toMatchObject({ from: 'helpful', to: 'needs-more-ratings' });
  });

  it('counts a rater\'s new rating once, and withdraws a deleted note with its label', async () => {
    const rater = bridgedRatings.at(-1)!.did;
    replay.push(ratingEvent({ did: rater, note: bridged, helpfulness: 'not_helpful' }), ratingEvent({ did: rater, note: bridged, helpfulness: 'helpful' }));
    const notes = running.app.get(NoteRepository);
    await waitFor('the new ratings', async () => ((await notes.ratings([bridged.uri])).find((rating) => rating.rater === rater)?.helpfulness === 'helpful' ? true : undefined));
    await snapshot();
    expect(await statusOf(bridged.uri)).toBe('helpful');
    expect((await noteLabels()).map((label) => label.uri)).toEqual([postUri('3kmisleading01')]);

    replay.push(recordEvent({ did: writers[0]!, collection: Nsid.note, rkey: bridged.event.commit.rkey }));
    await waitFor('the note withdrawn', async () => ((await notes.notes([postUri('3kmisleading01')])).length === 0 ? true : undefined));
    await snapshot();
    expect(await statusOf(bridged.uri)).toBe('needs-more-ratings');
    expect((await notes.changes(1, [bridged.uri]))[0]).toMatchObject({
      from: 'helpful',
      to: 'needs-more-ratings',
      post: postUri('3kmisleading01'),
      reason: "the note was withdrawn or is over its writer's daily limit",
    });
    const { data } = await new AtpAgent({ service: running.url }).com.atproto.label.queryLabels({ uriPatterns: [postUri('3kmisleading01')] });
    expect(data.labels.filter((label) => label.val === 'readers-added-context').at(-1)).toMatchObject({ neg: true });
  });

  it('writes every feed\'s snapshot when the notes step fails before any run of it succeeded', async () => {
    const step = running.app.get(NotesStep);
    step.stats.last = undefined;
    const failing = jest.spyOn(step, 'run').mockRejectedValueOnce(new Error('notes failed'));
    const runs = await snapshot();
    expect(failing).toHaveBeenCalledTimes(1);
    expect(runs.map((run) => run.feed.split('/').at(-1)).sort()).toEqual(['careful', 'open']);
    expect(step.stats.failures).toBe(1);
    // Operators see it: the ops port's metrics count the failed notes step.
    const metrics = await (await fetch(`${running.opsUrl}/metrics`)).text();
    expect(metrics).toMatch(/^cg_notes_step_failures_total 1$/m);
    failing.mockRestore();
  });
});
