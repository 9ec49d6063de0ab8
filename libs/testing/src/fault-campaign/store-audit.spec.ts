import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { applyMigrations, createClickHouseClient, EventRepository, type ClickHouseClient } from '#lib/clickhouse';
import type { PipelineEventV1 } from '#lib/contracts';
import { mapJetstreamEvent } from '#lib/domain';
import { startChdbHttpServer, type ChdbHttpServer } from '../chdb-http.server.js';
import { readJsonl } from '../jsonl.js';
import { prepareCampaignSource, type CampaignSource } from './campaign-source.js';
import { auditStore } from './store-audit.js';

/** The campaign's auditor must see a loss and a double count, or its zeros prove nothing. */
describe('store audit', () => {
  const database = `audit_${process.pid}_${Date.now()}`;
  let dir: string;
  let source: CampaignSource;
  let server: ChdbHttpServer;
  let client: ClickHouseClient;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'cg-audit-'));
    source = await prepareCampaignSource({ dir, events: 5_000, seed: 21 });
    server = await startChdbHttpServer({ path: ':memory:' });
    client = createClickHouseClient({ kind: 'server', url: server.url, username: 'default', password: '', database });
    await applyMigrations(client, database);
    const events: PipelineEventV1[] = [];
    for await (const item of readJsonl(source.file)) {
      const mapped = mapJetstreamEvent(item);
      if (mapped.kind === 'event') events.push(mapped.event);
    }
    // Every event twice, in two inserts: a re-delivery, which the tables must absorb.
    const repository = new EventRepository(client, database);
    await repository.write(events);
    await repository.write(events.slice(0, 1_000));
  });

  afterAll(async () => {
    await client?.close();
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const audit = () => auditStore({ url: server.url, database, source });

  it('finds nothing wrong with a store that holds every event, re-deliveries included', async () => {
    const report = await audit();
    expect(report).toMatchObject({ sourceEvents: source.keys.length, storedDistinct: source.keys.length, lost: 0, foreign: 0, duplicates: 0 });
    expect(report.aggregates.map((aggregate) => [aggregate.over, aggregate.under])).toEqual([[0, 0], [0, 0], [0, 0], [0, 0]]);
  });

  it('counts a like stored under a second identity as a duplicate, and a missing event as lost', async () => {
    const like = source.keys.find(([, , type]) => type === 'like')!;
    const [did, timeUs, , rkey] = like;
    const stored = await client.query({
      query: `SELECT subject_uri FROM ${database}.interactions FINAL WHERE actor = {did:String} AND kind = 'like' AND rkey = {rkey:String}`,
      query_params: { did, rkey },
      format: 'JSONEachRow',
    });
    const [{ subject_uri: subject }] = (await stored.json<{ subject_uri: string }>()) as [{ subject_uri: string }];
    await client.insert({
      table: `${database}.interactions`,
      values: [{ actor: did, kind: 'like', rkey: `${rkey}x`, subject_uri: subject, subject_did: '', time_us: timeUs, deleted: 0, version: timeUs }],
      format: 'JSONEachRow',
    });
    await client.command({
      query: `ALTER TABLE ${database}.event_log DELETE WHERE did = {did:String} AND time_us = {timeUs:UInt64}`,
      query_params: { did, timeUs },
      clickhouse_settings: { mutations_sync: '1' },
    });
    const report = await audit();
    expect(report).toMatchObject({ lost: 1, foreign: 0, duplicates: 1 });
    expect(report.aggregates.find((aggregate) => aggregate.name === 'interactions per post and kind')).toMatchObject({ over: 1, under: 0 });
    expect(report.aggregates.find((aggregate) => aggregate.name === 'events per type')).toMatchObject({ over: 0, under: 1 });
  });
});
