import { InvalidConfigError, loadConfig } from '#lib/config';
import { InvalidCurationError } from '#lib/curation';
import { describeCurationSource, readCurationInForce } from './curation-in-force.js';
import { AccountMismatchError, FeedPublisher, PublishingError } from '#lib/network';

/** `npm run feed:publish` / `npm run feed:unpublish`: the feed records in the publisher's repository. */
async function main(): Promise<void> {
  const action = process.argv[2];
  if (action !== 'publish' && action !== 'unpublish') throw new PublishingError('usage: publish.js publish|unpublish');
  const config = loadConfig();
  const inForce = await readCurationInForce(config);
  process.stdout.write(`${describeCurationSource(inForce)}\n`);
  const publisher = await FeedPublisher.login(config);
  const results = action === 'publish' ? await publisher.publishAll(inForce.curation) : await publisher.unpublishAll(inForce.curation);
  for (const result of results) process.stdout.write(`${result.action.padEnd(8)} ${result.uri}\n`);
  if (action === 'publish') {
    process.stdout.write(`\nThe records point at ${config.feedGenerator.serviceDid}; serve it at https://${config.feedGenerator.hostname}.\n`);
  }
}

main().catch((error: unknown) => {
  const known = error instanceof PublishingError || error instanceof AccountMismatchError || error instanceof InvalidConfigError || error instanceof InvalidCurationError;
  process.stderr.write(`${known ? error.message : error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
