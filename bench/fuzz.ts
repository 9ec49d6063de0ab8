/**
 * Fuzzing: hostile Jetstream frames through the real ingest, then hostile HTTP requests on every
 * route, against the app in embedded mode as a child process.
 *
 *     npm run fuzz                    # FUZZ_SEED=1 FUZZ_FRAMES=100000 FUZZ_REQUESTS=20000 FUZZ_SECONDS=600
 *
 * FUZZ_LOG_LEVEL=warn shows the app's warnings (each malformed frame, each failed batch) on failure.
 *
 * Prints frames sent and what the app counted, crashes, 5xx answers (the first few with route and
 * input), and the app's RSS before and after. Exits 1 when the app crashed, answered 5xx, became
 * unhealthy, or lost a valid event.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Secp256k1Keypair } from '@atproto/crypto';
import { terminalProgress, type Progress } from '#lib/platform';
import { deterministicDidPlc, runFuzzCampaign, startPlcDirectory, type FuzzAccount, type FuzzReport } from '#lib/testing';

const seed = Number(process.env.FUZZ_SEED ?? 1);
const frames = Number(process.env.FUZZ_FRAMES ?? 100_000);
const requests = Number(process.env.FUZZ_REQUESTS ?? 20_000);
const seconds = Number(process.env.FUZZ_SECONDS ?? 600);
const logLevel = process.env.FUZZ_LOG_LEVEL ?? 'error';

const dir = await mkdtemp(path.join(os.tmpdir(), 'cg-fuzz-'));
const plc = await startPlcDirectory();
const accounts: FuzzAccount[] = [];
for (let i = 0; i < 4; i++) {
  const account = { did: deterministicDidPlc(`fuzz-account-${i}`), keypair: await Secp256k1Keypair.create() };
  plc.publish(account.did, account.keypair, `fuzz${i}.example.com`);
  accounts.push(account);
}

console.log(`fuzz: seed ${seed}, ${frames} frames, ${requests} requests, at most ${seconds} s`);
const bars: Partial<Record<'frames' | 'requests', Progress>> = {};
let report: FuzzReport;
try {
  report = await runFuzzCampaign({
    seed,
    frames,
    requests,
    seconds,
    workDir: dir,
    plcUrl: plc.url,
    accounts,
    logLevel,
    onProgress: (phase, done, total) => {
      if (phase === 'requests') bars.frames?.finish();
      (bars[phase] ??= terminalProgress({ label: phase, total, unit: phase })).update(done);
    },
  });
  bars.frames?.finish();
  bars.requests?.finish();
} finally {
  await plc.close();
  await rm(dir, { recursive: true, force: true });
}

const mib = (bytes: number | null) => (bytes === null ? 'unknown' : `${(bytes / 2 ** 20).toFixed(0)} MiB`);
const { frames: f, requests: r } = report;
const fiveXx = r.failures.length;
const lost = f.validPosts - f.validPostsInFeed;
console.log(
  [
    `frames sent: ${f.sent} (${f.valid} valid events, of which ${f.validPosts} posts) in ${f.seconds.toFixed(1)} s`,
    `  hostile frames by kind: ${Object.entries(f.hostile).map(([kind, count]) => `${kind} ${count}`).join(', ')}`,
    `  counted by the app: received ${f.receivedByApp ?? '?'}, malformed ${f.malformedByApp ?? '?'}, skipped ${f.skippedByApp ?? '?'}; events stored ${f.storedEvents ?? '?'}; batches refused by ClickHouse ${f.failedBatches ?? '?'}, dead-lettered ${f.deadLettered ?? '?'}`,
    `  valid posts served by the members' feed: ${f.validPostsInFeed}/${f.validPosts}${lost > 0 ? `  (${lost} LOST)` : ''}`,
    `requests sent: ${r.sent}/${r.planned} in ${r.seconds.toFixed(1)} s; by status: ${Object.entries(r.byStatus).sort().map(([status, count]) => `${status} ${count}`).join(', ')}`,
    ...Object.entries(r.byRoute).map(([route, statuses]) => `  ${route}: ${Object.entries(statuses).sort().map(([status, count]) => `${status}×${count}`).join(' ')}`),
    `  501 MethodNotImplemented for unknown XRPC methods (the protocol's answer, not counted as 5xx): ${r.protocol5xx}`,
    `  sendInteractions feedback batches refused by ClickHouse: ${r.feedbackFailedBatches ?? '?'}`,
    `crashes: ${report.crashes}`,
    `5xx answers: ${fiveXx}`,
    ...r.failures.slice(0, 5).map((failure) => `  ${failure.status} ${failure.route}: ${failure.method} ${failure.path.slice(0, 200)} headers=${JSON.stringify(failure.headers).slice(0, 200)}${failure.body === undefined ? '' : ` body=${failure.body.slice(0, 200)}`} → ${failure.answer.slice(0, 200)}`),
    `health after: ${report.healthy ? 'ok' : 'FAILED'}; exit after SIGTERM: ${report.exitCode ?? 'n/a'}`,
    `app RSS: before ${mib(report.rssBeforeBytes)}, after ${mib(report.rssAfterBytes)}`,
  ].join('\n'),
);
const failed = report.crashes > 0 || fiveXx > 0 || lost > 0 || !report.healthy;
if (failed && report.appOutput.length > 0) console.log(`last output of the app:\n${report.appOutput.join('\n')}`);
process.exit(failed ? 1 : 0);
