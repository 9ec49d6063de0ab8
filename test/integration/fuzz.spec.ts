import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Secp256k1Keypair } from '@atproto/crypto';
import { deterministicDidPlc, runFuzzCampaign, startPlcDirectory, type FuzzAccount, type PlcDirectoryServer } from '#lib/testing';

// @NOTE The short version of `npm run fuzz`, with the same generators and a fixed seed: the full
// campaign (100,000 frames, 20,000 requests) is a benchmark, not a test.
describe('fuzzing the embedded app (hostile Jetstream frames, then hostile requests on every route)', () => {
  let dir: string;
  let plc: PlcDirectoryServer;
  const accounts: FuzzAccount[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'cg-fuzz-spec-'));
    plc = await startPlcDirectory();
    for (let i = 0; i < 2; i++) {
      const account = { did: deterministicDidPlc(`fuzz-spec-${i}`), keypair: await Secp256k1Keypair.create() };
      plc.publish(account.did, account.keypair, `fuzz${i}.example.com`);
      accounts.push(account);
    }
  });

  afterAll(async () => {
    await plc?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('stays up, answers no 5xx, and stores every valid event among 3,000 frames', async () => {
    // @NOTE A budget, not a wait: the campaign ends when the last request is answered. 120 s leaves
    // room for the app's start and the frames on 2 cores shared with the other test workers.
    const report = await runFuzzCampaign({ seed: 20261203, frames: 3_000, requests: 1_000, seconds: 120, hugeEvery: 1_000, workDir: dir, plcUrl: plc.url, accounts });
    // A crash shows the app's last lines of output in the failure.
    expect({ crashes: report.crashes, output: report.crashes > 0 ? report.appOutput : [] }).toEqual({ crashes: 0, output: [] });
    expect(report.requests.failures).toEqual([]);
    expect(report.requests.sent).toBe(1_000);
    // Every public and admin surface is reached, the labeler's, the reports' and the funds' among them.
    expect(Object.keys(report.requests.byRoute)).toEqual(
      expect.arrayContaining(['getFeedSkeleton', 'sendInteractions', 'queryLabels', 'conversation report', 'digest page', 'digest editions', 'fund report', 'admin funds', 'admin pledges', 'notes']),
    );
    expect(report.frames.sent).toBe(3_000);
    expect(report.frames.validPosts).toBeGreaterThan(0);
    expect(report.frames.validPostsInFeed).toBe(report.frames.validPosts);
    // Every frame arrived and was either a JSON value the ingest looked at or counted as malformed.
    expect(report.frames.malformedByApp).toBeGreaterThan(0);
    expect(report.healthy).toBe(true);
    expect(report.exitCode).toBe(0);
  });
});
