import { createServer, type Server } from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as plc from '@did-plc/lib';
import { AtpAgent } from '@atproto/api';
import { getServiceEndpoint, getVerificationMaterial } from '@atproto/common';
import { Secp256k1Keypair } from '@atproto/crypto';
import { getDidKeyFromMultibase, IdResolver } from '@atproto/identity';
import { MessageFrame, XrpcStreamServer } from '@atproto/xrpc-server';
import { LabelRepository } from '#lib/clickhouse';
import { loadConfig, type AppConfig } from '#lib/config';
import { signLabel, verifyLabel, type Label } from '#lib/labels';
import { CurationService } from '#lib/platform';
import { freePort, testAppEnv, waitFor } from '#lib/testing';
import { connectAtprotoNetwork, type AtprotoNetworkClient, type TestAccount, type TestRecordRef } from '../../libs/testing/src/atproto-network/index.js';
import { startApp, type RunningApp } from '../../services/app/src/app.factory.js';
import { LabelerSetup } from '../../services/app/src/labeler-setup.js';
import { FeedRecordsKeeper } from '../../services/scoring/src/feed-records.keeper.js';
import { LabelerRecordKeeper } from '../../services/scoring/src/labeler-record.keeper.js';
import { LabelerSubscriber } from '../../services/scoring/src/labeler.subscriber.js';
import { ScoreSnapshotJob } from '../../services/scoring/src/score-snapshot.job.js';

// Our labeler on the local AT Protocol network (@atproto/dev-env: PLC, PDS, AppView, Ozone): its identity and
// service record made by labeler:setup, its labels verified against the key the DID document names, and the
// labels of the network's Ozone (and of a forger) followed and used by a bridging feed. The network is the run's,
// shared with other files: the labels counted are the ones on this file's posts.

const startupTimeoutMs = 240_000;
const testTimeoutMs = 120_000;
const adminToken = 'labeler-e2e-admin-token-0123456789abcdef';

/** A labeler of our own making whose stream signs with a key its DID document does not name. */
async function startForgingLabeler(plcUrl: string, subject: string): Promise<{ did: string; server: Server; close(): Promise<void> }> {
  const named = await Secp256k1Keypair.create();
  const forger = await Secp256k1Keypair.create();
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const op = await plc.signOperation(
    {
      type: 'plc_operation',
      alsoKnownAs: [],
      rotationKeys: [named.did()],
      verificationMethods: { atproto_label: named.did() },
      services: { atproto_labeler: { type: 'AtprotoLabeler', endpoint: `http://127.0.0.1:${port}` } },
      prev: null,
    },
    named,
  );
  const did = await plc.didForCreateOp(op);
  await new plc.Client(plcUrl).sendOperation(did, op);
  const forged = await signLabel({ ver: 1, src: did, uri: subject, val: 'spam', cts: new Date().toISOString() }, forger);
  const stream = new XrpcStreamServer({
    server,
    handler: async function* () {
      // A plain object, as a decoded frame holds it.
      yield new MessageFrame({ seq: 1, labels: [Object.fromEntries(Object.entries(forged))] }, { type: '#labels' });
      await new Promise(() => undefined);
    },
  });
  return {
    did,
    server,
    close: async () => {
      for (const client of stream.wss.clients) client.terminate();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('our labeler on the local AT Protocol network, and the labels of the labelers we follow', () => {
  const startedAt = performance.now();
  let dir: string;
  let net: AtprotoNetworkClient | undefined;
  let running: RunningApp | undefined;
  let config: AppConfig;
  let feedgenUrl: string;
  let labeler: TestAccount;
  let author: TestAccount;
  let ozoneDid: string;
  let forging: Awaited<ReturnType<typeof startForgingLabeler>> | undefined;
  const posts: Record<'trees' | 'library' | 'spam', TestRecordRef> = {} as never;
  let key: Secp256k1Keypair;
  let idResolver: IdResolver;

  const network = () => net ?? (() => { throw new Error('network not started'); })();
  const app = () => running ?? (() => { throw new Error('app not started'); })();
  const feedUri = () => `at://${labeler.did}/app.bsky.feed.generator/common-ground`;
  const skeleton = async () =>
    ((await (await fetch(`${feedgenUrl}/xrpc/app.bsky.feed.getFeedSkeleton?feed=${encodeURIComponent(feedUri())}`)).json()) as { feed: { post: string }[] }).feed.map(
      (item) => item.post,
    );

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'cg-labeler-e2e-'));
    net = await connectAtprotoNetwork();
    const n = network();
    idResolver = new IdResolver({ plcUrl: n.plcUrl, fetch: globalThis.fetch });

    // dev-env's Ozone is a labeler account whose DID document names its endpoint and #atproto_label key.
    ozoneDid = n.ozoneDid;

    labeler = await n.createAccount('cglabeler');
    // The ranker keeps the labeler record with an app password, as an operator would give it.
    const session = new AtpAgent({ service: n.pdsUrl });
    await session.login({ identifier: labeler.did, password: labeler.password });
    const appPassword = (await session.com.atproto.server.createAppPassword({ name: 'common-ground ranker' })).data.password;
    author = await n.createAccount('author');
    const left = [await n.createAccount('ann'), await n.createAccount('ben'), await n.createAccount('cat'), await n.createAccount('dan'), await n.createAccount('eli')];
    const right = [await n.createAccount('fay'), await n.createAccount('gil'), await n.createAccount('hue'), await n.createAccount('ida'), await n.createAccount('jay')];

    forging = await startForgingLabeler(n.plcUrl, author.did);
    const members = (accounts: TestAccount[]) => `      dids: [${accounts.map((account) => account.did).join(', ')}]`;
    await writeFile(
      path.join(dir, 'feeds.yaml'),
      [
        'communities:',
        '  left:',
        '    name: Left',
        '    members:',
        members(left),
        '  right:',
        '    name: Right',
        '    members:',
        members(right),
        'feeds:',
        '  common-ground:',
        '    displayName: Common ground',
        '    communities: [left, right]',
        '    ranking: bridging',
        '    exclude: [spam]',
        '    downrank:',
        '      labels: [rude]',
        '      factor: 0.01',
      ].join('\n'),
    );
    key = await Secp256k1Keypair.create({ exportable: true });
    const port = await freePort();
    feedgenUrl = `http://localhost:${port}`;
    config = loadConfig(
      testAppEnv({
        name: 'labeler_e2e',
        dataDir: dir,
        feedsFile: path.join(dir, 'feeds.yaml'),
        jetstreamUrl: n.jetstreamUrl,
        overrides: {
          HTTP_PORT: String(port),
          FEEDGEN_HOSTNAME: `localhost:${port}`,
          FEEDGEN_PUBLISHER_DID: labeler.did,
          PLC_URL: n.plcUrl,
          IDENTITY_ALLOW_INSECURE: 'true',
          BSKY_SERVICE: n.pdsUrl,
          LABELER_DID: labeler.did,
          LABELER_SIGNING_KEY: Buffer.from(await key.export()).toString('hex'),
          LABELER_ACCOUNT_PASSWORD: labeler.password,
          LABELER_APP_PASSWORD: appPassword,
          // The labeler account publishes the feeds too, and the ranker keeps their records in step.
          BSKY_IDENTIFIER: labeler.did,
          BSKY_APP_PASSWORD: appPassword,
          FEEDS_KEEP_PUBLISHED: 'true',
          LABELER_ENDPOINT: feedgenUrl,
          LABELERS_SUBSCRIBE: `${ozoneDid},${forging.did}`,
          LABELS_POLL_MS: '200',
          INGEST_BATCH_MAX_WAIT_MS: '50',
          SCORING_INTERVAL_SECONDS: '3600',
          LOG_LEVEL: 'warn',
          ADMIN_TOKEN: adminToken,
        },
      }),
    );
    running = await startApp(config);
    await waitFor('our ingest connected to the Jetstream endpoint', async () => {
      const status = (await (await fetch(`${app().opsUrl}/status`)).json()) as { ingest: { connected: boolean } };
      return status.ingest.connected ? true : undefined;
    });
    // Made after start: ingest reads Jetstream live.
    posts.trees = await n.post(author.did, 'More shade trees on every street');
    posts.library = await n.post(author.did, 'Keep the library open late');
    posts.spam = await n.post(author.did, 'Buy followers now');
    for (const post of Object.values(posts)) for (const by of [...left, ...right]) await n.like(by.did, post);
    await n.syncJetstream();
    await waitFor('the three posts ranked', async () => {
      const [run] = await app().app.get(ScoreSnapshotJob).runOnce();
      return run && run.posts === 3 ? true : undefined;
    }, { timeoutMs: 60_000, intervalMs: 1_000 });
    await Promise.all([app().app.get(LabelerRecordKeeper).settled(), app().app.get(FeedRecordsKeeper).settled()]);
    console.log(`[labeler e2e] start-up ${Math.round(performance.now() - startedAt)} ms`);
  }, startupTimeoutMs);

  afterAll(async () => {
    await running?.close();
    await forging?.close();
    await net?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
    console.log(`[labeler e2e] total ${Math.round(performance.now() - startedAt)} ms`);
  }, 60_000);

  it('labeler:setup puts our key and endpoint into the DID document (through the PDS) and publishes the service record the AppView serves', async () => {
    const setup = await LabelerSetup.login(config, labeler.password);
    // The curation in force, as `npm run labeler:setup` reads it (see `readCurationInForce`).
    const curation = app().app.get(CurationService).current;
    expect((await setup.run(undefined, curation)).identity).toBe('signature-requested');
    const result = await setup.run(await network().emailToken(labeler.did, 'plc_operation'), curation);
    expect(result.identity).toBe('updated');
    expect((await setup.run(undefined, curation)).identity).toBe('unchanged');

    const doc = await idResolver.did.resolve(labeler.did, true);
    expect(getDidKeyFromMultibase(getVerificationMaterial(doc!, 'atproto_label')!)).toBe(key.did());
    expect(getServiceEndpoint(doc!, { id: '#atproto_labeler', type: 'AtprotoLabeler' })).toBe(feedgenUrl);
    // The account's own signing key and PDS survive the update.
    expect(getVerificationMaterial(doc!, 'atproto')).toBeDefined();
    expect(getServiceEndpoint(doc!, { id: '#atproto_pds', type: 'AtprotoPersonalDataServer' })).toBe(network().pdsUrl);

    await network().syncAppView();
    const appview = new AtpAgent({ service: network().appviewUrl });
    const { data } = await appview.app.bsky.labeler.getServices({ dids: [labeler.did], detailed: true });
    const view = data.views[0] as { policies: { labelValues: string[]; labelValueDefinitions: { identifier: string; locales: { name: string }[] }[] } };
    expect(view.policies.labelValues).toEqual(result.labelValues);
    expect(view.policies.labelValues).toEqual([
      'common-ground',
      'readers-added-context',
      'supported-by-left',
      'divisive-in-left',
      'boosted-by-left',
      'supported-by-right',
      'divisive-in-right',
      'boosted-by-right',
    ]);
    expect(view.policies.labelValueDefinitions.find((d) => d.identifier === 'supported-by-left')?.locales[0]?.name).toBe('Supported by Left');
    // It takes no reports: the Bluesky app offers it in no report dialog (left out, these would mean every subject and reason).
    expect(data.views[0]).toMatchObject({ subjectTypes: [], reasonTypes: [] });
  }, testTimeoutMs);

  it('keeps the labeler record declaring a community added in the console, with an app password, and writes it only when communities change', async () => {
    const pds = new AtpAgent({ service: network().pdsUrl });
    const record = async () => {
      const { data } = await pds.com.atproto.repo.getRecord({ repo: labeler.did, collection: 'app.bsky.labeler.service', rkey: 'self' });
      return { cid: data.cid, labelValues: (data.value as { policies: { labelValues: string[] } }).policies.labelValues };
    };
    const before = await record();
    expect(before.labelValues).not.toContain('supported-by-middle');
    const added = await fetch(`${feedgenUrl}/api/admin/communities/middle`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Middle way', members: { dids: [author.did] } }),
    });
    expect(added.status).toBe(200);
    await waitFor('the community in force', async () => (app().app.get(CurationService).current.communities.has('middle') ? true : undefined));
    await app().app.get(ScoreSnapshotJob).runOnce();
    await app().app.get(LabelerRecordKeeper).settled();
    const after = await record();
    expect(after.labelValues).toEqual([...before.labelValues, 'supported-by-middle', 'divisive-in-middle', 'boosted-by-middle']);
    await network().syncAppView();
    const { data } = await new AtpAgent({ service: network().appviewUrl }).app.bsky.labeler.getServices({ dids: [labeler.did], detailed: true });
    const definitions = (data.views[0] as { policies: { labelValueDefinitions: { identifier: string; locales: { name: string }[] }[] } }).policies.labelValueDefinitions;
    expect(definitions.find((definition) => definition.identifier === 'supported-by-middle')?.locales[0]?.name).toBe('Supported by Middle way');
    // Another run with the same communities writes nothing.
    await app().app.get(ScoreSnapshotJob).runOnce();
    await app().app.get(LabelerRecordKeeper).settled();
    expect((await record()).cid).toBe(after.cid);
    const removed = await fetch(`${feedgenUrl}/api/admin/communities/middle`, { method: 'DELETE', headers: { authorization: `Bearer ${adminToken}` } });
    expect(removed.status).toBe(200);
    await waitFor('the community gone', async () => (app().app.get(CurationService).current.communities.has('middle') ? undefined : true));
    await app().app.get(ScoreSnapshotJob).runOnce();
    await app().app.get(LabelerRecordKeeper).settled();
    expect((await record()).labelValues).toEqual(before.labelValues);
  }, testTimeoutMs);

  it('keeps the feeds published as the console changes them: a feed added gets its record, a renamed one says its new name, a removed one loses it', async () => {
    const pds = new AtpAgent({ service: network().pdsUrl });
    const records = async () => {
      const { data } = await pds.com.atproto.repo.listRecords({ repo: labeler.did, collection: 'app.bsky.feed.generator' });
      return Object.fromEntries(data.records.map((record) => [record.uri.split('/').pop()!, record.value as { did: string; displayName: string }]));
    };
    const serviceDid = config.feedGenerator.serviceDid;
    // The first run published the feed of the file.
    expect(await records()).toEqual({ 'common-ground': expect.objectContaining({ did: serviceDid, displayName: 'Common ground' }) });
    const settle = async (what: string, done: (feeds: ReadonlyMap<string, { displayName: string }>) => boolean) => {
      await waitFor(what, async () => (done(app().app.get(CurationService).current.feeds) ? true : undefined));
      await app().app.get(ScoreSnapshotJob).runOnce();
      await app().app.get(FeedRecordsKeeper).settled();
    };
    const put = (displayName: string) =>
      fetch(`${feedgenUrl}/api/admin/feeds/new-voices`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ displayName, communities: ['left'], ranking: 'recent' }),
      });
    expect((await put('New voices')).status).toBe(200);
    await settle('the new feed in force', (feeds) => feeds.has('new-voices'));
    expect(await records()).toMatchObject({ 'new-voices': { did: serviceDid, displayName: 'New voices' }, 'common-ground': { displayName: 'Common ground' } });

    expect((await put('Newer voices')).status).toBe(200);
    await settle('the new name in force', (feeds) => feeds.get('new-voices')?.displayName === 'Newer voices');
    expect((await records())['new-voices']).toMatchObject({ displayName: 'Newer voices' });
    await network().syncAppView();
    const { data } = await new AtpAgent({ service: network().appviewUrl }).app.bsky.feed.getFeedGenerators({ feeds: [`at://${labeler.did}/app.bsky.feed.generator/new-voices`] });
    expect(data.feeds.map((feed) => feed.displayName)).toEqual(['Newer voices']);

    const removed = await fetch(`${feedgenUrl}/api/admin/feeds/new-voices`, { method: 'DELETE', headers: { authorization: `Bearer ${adminToken}` } });
    expect(removed.status).toBe(200);
    await settle('the feed gone', (feeds) => !feeds.has('new-voices'));
    expect(Object.keys(await records())).toEqual(['common-ground']);
  }, testTimeoutMs);

  it('serves signed labels through queryLabels that verify against the key @atproto/identity resolves', async () => {
    const { data } = await new AtpAgent({ service: feedgenUrl }).com.atproto.label.queryLabels({ uriPatterns: ['*'] });
    expect(data.labels.filter((label) => label.uri === posts.trees.uriStr).map((label) => label.val).sort()).toEqual([
      'common-ground',
      'supported-by-left',
      'supported-by-right',
    ]);
    const doc = await idResolver.did.resolve(labeler.did, true);
    const labelKey = getDidKeyFromMultibase(getVerificationMaterial(doc!, 'atproto_label')!)!;
    for (const label of data.labels) expect(await verifyLabel(label as Label, labelKey)).toBe(true);
  }, testTimeoutMs);

  it("follows the network's Ozone: its labels exclude and downrank posts in the bridging feed; a forged label is rejected and counted", async () => {
    expect((await skeleton()).sort()).toEqual(Object.values(posts).map((post) => post.uriStr).sort());
    await network().labelWithOzone(posts.spam, ['spam']);
    await network().labelWithOzone(posts.trees, ['rude']);
    await network().syncAppView();
    const labels = app().app.get(LabelRepository);
    // Only the labels on this file's author and posts: other files share the network and its Ozone.
    const ours = new Set([author.did, ...Object.values(posts).map((post) => post.uriStr)]);
    const oursInForce = async (values: string[]) =>
      (await labels.externalInForce({ sources: [ozoneDid, forging!.did], values, subjects: [...ours], nowIso: new Date().toISOString() }))
        .map((label) => [label.src, label.uri, label.val])
        .sort();
    const fromOzone = [
      [ozoneDid, posts.spam.uriStr, 'spam'],
      [ozoneDid, posts.trees.uriStr, 'rude'],
    ].sort();
    await waitFor('the Ozone labels stored', async () => JSON.stringify(await oursInForce(['spam', 'rude'])) === JSON.stringify(fromOzone));
    const followed = app().app.get(LabelerSubscriber).followed();
    expect(followed.find((entry) => entry.did === ozoneDid)).toMatchObject({ received: expect.any(Number), rejected: 0 });
    expect(followed.find((entry) => entry.did === ozoneDid)!.received).toBeGreaterThanOrEqual(2);
    expect(followed.find((entry) => entry.did === forging!.did)).toMatchObject({ received: 0, rejected: 1 });
    // The forged label named `spam` on the author: rejected, so the author's other posts stay.
    expect(await oursInForce(['spam'])).toEqual([[ozoneDid, posts.spam.uriStr, 'spam']]);

    await app().app.get(ScoreSnapshotJob).runOnce(Date.now() + 1_000);
    // The feed generator trusts its latest snapshot for two seconds before it looks again.
    const expected = [posts.library.uriStr, posts.trees.uriStr];
    await waitFor('the new snapshot served', async () => JSON.stringify(await skeleton()) === JSON.stringify(expected));
    expect(await skeleton()).toEqual(expected);
    const explanation = (await (await fetch(`${feedgenUrl}/api/feeds/common-ground/explain?post=${encodeURIComponent(posts.trees.uriStr)}`)).json()) as {
      components: { labels?: unknown };
    };
    expect(explanation.components.labels).toEqual({ downrankedBy: ['rude'], factor: 0.01 });

    // The console's labels panel says the same.
    const panel = (await (await fetch(`${feedgenUrl}/api/admin/console/labels`, { headers: { authorization: `Bearer ${adminToken}` } })).json()) as {
      labeler: { did: string };
      totals: { lastSeq: number; inForce: Record<string, number> };
      followed: { src: string; inForce: number; rejected: number; cursor: number | null }[];
    };
    expect(panel.labeler.did).toBe(labeler.did);
    expect(panel.totals.inForce['common-ground']).toBeGreaterThan(0);
    expect(panel.followed.find((entry) => entry.src === ozoneDid)).toMatchObject({ inForce: expect.any(Number), rejected: 0 });
    expect(panel.followed.find((entry) => entry.src === ozoneDid)!.inForce).toBeGreaterThanOrEqual(2);
    expect(panel.followed.find((entry) => entry.src === forging!.did)).toMatchObject({ inForce: 0, rejected: 1, cursor: 1 });

    // An edit through the admin API that does not name the label rules (as the console's form) keeps them.
    const edited = await fetch(`${feedgenUrl}/api/admin/feeds/common-ground`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ displayName: 'Common ground, edited', communities: ['left', 'right'], ranking: 'bridging' }),
    });
    expect(((await edited.json()) as { labels?: unknown }).labels).toEqual({ exclude: ['spam'], downrank: { labels: ['rude'], factor: 0.01 } });
  }, testTimeoutMs);
});
