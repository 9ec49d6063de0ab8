/**
 * Fault campaign: replays a seeded synthetic Jetstream through the pipeline while killing it, then
 * audits ClickHouse against the source: every event stored once, no aggregate counting twice.
 *  1. embedded mode: the app (one process) killed with SIGKILL at FAULTS_KILLS seeded points, restarted each time;
 *  2. scaled mode: ingest and scoring processes on a real Kafka broker and a ClickHouse HTTP server;
 *     scoring, ingest and the broker killed at FAULTS_SCALED_KILLS seeded points (each at least once),
 *     and the ClickHouse server down for FAULTS_OUTAGE_SECONDS half-way.
 *
 *     npm run bench:faults      # FAULTS_EVENTS=1000000 FAULTS_SEED=1 FAULTS_KILLS=20 FAULTS_SCALED_KILLS=10 FAULTS_OUTAGE_SECONDS=30
 *     FAULTS_MODES=embedded npm run bench:faults
 *
 * The embedded replay goes as fast as the app reads (FAULTS_EMBEDDED_RATE events/s to pace it); the
 * scaled one at FAULTS_SCALED_RATE (default 2000 events/s, the real network's sustained rate), so
 * that its faults strike while events still flow rather than after ingest raced ahead of scoring.
 *
 * Prints, per mode: events in the source, distinct events stored, duplicates counted in any
 * aggregate, lost events, and the recovery time after each fault. Exits 1 unless lost and
 * duplicates are 0.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  campaignPassed,
  formatCampaign,
  prepareCampaignSource,
  runEmbeddedCampaign,
  runScaledCampaign,
  type CampaignReport,
} from '#lib/testing';

const settings = {
  events: Number(process.env.FAULTS_EVENTS ?? 1_000_000),
  seed: Number(process.env.FAULTS_SEED ?? 1),
  kills: Number(process.env.FAULTS_KILLS ?? 20),
  scaledKills: Number(process.env.FAULTS_SCALED_KILLS ?? 10),
  outageSeconds: Number(process.env.FAULTS_OUTAGE_SECONDS ?? 30),
  embeddedRate: Number(process.env.FAULTS_EMBEDDED_RATE ?? 0),
  scaledRate: Number(process.env.FAULTS_SCALED_RATE ?? 2_000),
  modes: (process.env.FAULTS_MODES ?? 'embedded,scaled').split(',').map((mode) => mode.trim()),
};
const log = (line: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${line}`);

const dir = await mkdtemp(path.join(os.tmpdir(), 'cg-faults-'));
const reports: CampaignReport[] = [];
try {
  log(`settings: ${JSON.stringify(settings)}`);
  const source = await prepareCampaignSource({ dir, events: settings.events, seed: settings.seed });
  log(`source: ${source.frames} frames, ${source.keys.length} mappable events`);
  if (settings.modes.includes('embedded')) {
    reports.push(await runEmbeddedCampaign({ source, dir, kills: settings.kills, seed: settings.seed, replayEventsPerSecond: settings.embeddedRate, log }));
    for (const line of formatCampaign(reports.at(-1)!)) console.log(line);
  }
  if (settings.modes.includes('scaled')) {
    reports.push(
      await runScaledCampaign({
        source,
        dir,
        kills: settings.scaledKills,
        seed: settings.seed + 1,
        clickhouseOutageMs: settings.outageSeconds * 1000,
        replayEventsPerSecond: settings.scaledRate,
        log,
      }),
    );
    for (const line of formatCampaign(reports.at(-1)!)) console.log(line);
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
console.log(`\nfault campaign (${settings.events} events, seed ${settings.seed}):`);
for (const report of reports) console.log(`  ${report.mode}: lost ${report.audit.lost}, duplicates ${report.audit.duplicates} — ${campaignPassed(report) ? 'PASS' : 'FAIL'}`);
process.exitCode = reports.every(campaignPassed) ? 0 : 1;
