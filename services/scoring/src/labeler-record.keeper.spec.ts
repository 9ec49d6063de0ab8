import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { loadConfig } from '#lib/config';
import { parseCuration } from '#lib/curation';
import { Metrics } from '#lib/platform';
import { capturedLogger } from '#lib/testing';
import { LabelerRecordKeeper } from './labeler-record.keeper.js';

const curation = parseCuration('communities:\n  left: { name: Left, members: { dids: [did:plc:aaaaaaaaaaaaaaaaaaaaaaaa] } }\nfeeds: {}\n', 'feeds.yaml');

describe('LabelerRecordKeeper against a PDS that refuses its app password', () => {
  let server: Server;
  let sessions = 0;
  let keeper: LabelerRecordKeeper;
  const metrics = new Metrics({ processMetrics: false });
  const log = capturedLogger('warn');

  beforeAll(async () => {
    // A real HTTP server answering createSession as a PDS does to a revoked app password.
    server = createServer((request, response) => {
      if (request.url?.startsWith('/xrpc/com.atproto.server.createSession')) sessions += 1;
      response.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'AuthenticationRequired', message: 'Invalid identifier or password' }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const config = loadConfig({
      LABELER_DID: 'did:plc:labelerlabelerlabelerlab',
      LABELER_SIGNING_KEY: randomBytes(32).toString('hex'),
      LABELER_APP_PASSWORD: 'q7wd-2kfx-m9tr-h4ne',
      BSKY_SERVICE: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    });
    keeper = new LabelerRecordKeeper(config, log.logger, metrics);
  });

  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('says the record is stale, logs why, and asks again only after a wait that doubles', async () => {
    const now = Date.now();
    keeper.keepUpWith(curation, now);
    await keeper.settled();
    expect(sessions).toBe(1);
    expect(await metrics.sum(metrics.publishedRecordsStale, { records: 'labeler' })).toBe(1);
    expect(log.lines.find((line) => line.msg === 'published records not brought in step; trying again after a wait')).toMatchObject({ records: 'labeler', retryInSeconds: 60, err: expect.stringContaining('Invalid identifier or password') });

    keeper.keepUpWith(curation, now + 30_000);
    await keeper.settled();
    expect(sessions).toBe(1);
    keeper.keepUpWith(curation, now + 61_000);
    await keeper.settled();
    expect(sessions).toBe(2);
    expect(log.lines.filter((line) => line.retryInSeconds !== undefined).map((line) => line.retryInSeconds)).toEqual([60, 120]);
  });
});
