import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  formatCampaign,
  prepareCampaignSource,
  runEmbeddedCampaign,
  runScaledCampaign,
  type CampaignReport,
  type CampaignSource,
} from '#lib/testing';

/** The short version of `npm run bench:faults`: same campaign code, fewer events and faults. */
describe('fault campaign: nothing lost, nothing counted twice', () => {
  let dir: string;
  let source: CampaignSource;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'cg-faults-'));
    source = await prepareCampaignSource({ dir, events: 30_000, seed: 7 });
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const expectExactlyOnce = (report: CampaignReport) => {
    const { audit } = report;
    expect({ lost: audit.lost, duplicates: audit.duplicates, foreign: audit.foreign }).toEqual({ lost: 0, duplicates: 0, foreign: 0 });
    expect(audit.sourceEvents).toBe(source.keys.length);
    expect(audit.storedDistinct).toBe(source.keys.length);
    for (const aggregate of audit.aggregates) expect({ [aggregate.name]: [aggregate.over, aggregate.under] }).toEqual({ [aggregate.name]: [0, 0] });
    expect(report.crashes).toEqual([]);
  };

  it('embedded mode stores every event once although the app is killed with SIGKILL three times', async () => {
    const report = await runEmbeddedCampaign({ source, dir, kills: 3, seed: 7 });
    console.log(formatCampaign(report).join('\n'));
    expect(report.recoveries.map((recovery) => recovery.fault)).toEqual(['app', 'app', 'app']);
    for (const recovery of report.recoveries) expect(recovery.advancingMs).not.toBeNull();
    expectExactlyOnce(report);
  });

  it('scaled mode stores every event once although scoring, ingest and the broker are killed and ClickHouse goes away', async () => {
    const report = await runScaledCampaign({ source, dir, kills: 3, seed: 8, clickhouseOutageMs: 5_000, replayEventsPerSecond: 1_000, brokerProfile: 'test' });
    console.log(formatCampaign(report).join('\n'));
    expect(report.recoveries.map((recovery) => recovery.fault).sort()).toEqual(['broker', 'clickhouse', 'ingest', 'scoring']);
    expectExactlyOnce(report);
  });
});
