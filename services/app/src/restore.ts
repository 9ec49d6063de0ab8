import { BackupFailedError, BackupNameError, createClickHouseClient, StoreBackups, StoreNotEmptyError } from '#lib/clickhouse';
import { InvalidConfigError, loadConfig } from '#lib/config';
import { CursorFileError, CursorStore } from '../../ingest/src/cursor.store.js';

const USAGE = 'usage: npm run restore -- <backup name> [--replace]';

class UsageError extends Error {
  override name = 'UsageError';
}

/**
 * `npm run restore -- <name> [--replace]`: restores the store from a backup (`POST
 * /api/admin/backups`), every process stopped. The ingest cursor kept beside the store is then
 * taken back to the newest event the backup holds, so ingest reads again from Jetstream what came
 * after (as far back as Jetstream keeps events; writing an event twice changes nothing).
 */
async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const replace = args.includes('--replace');
  const names = args.filter((arg) => arg !== '--replace');
  if (names.length !== 1 || names[0]!.startsWith('-')) throw new UsageError(USAGE);
  const config = loadConfig();
  const client = createClickHouseClient(config.clickhouse);
  try {
    const backups = new StoreBackups(client, config.clickhouse.database);
    const restored = await backups.restore(names[0]!, { replace });
    process.stdout.write(`restored ${config.clickhouse.database} from ${restored.name} (${restored.files} files, ${restored.bytes} bytes)\n`);
    const newestUs = await backups.newestEventUs();
    const cursor = new CursorStore(config.ingest.cursorFile);
    const savedUs = await cursor.load(Date.now() * 1000).catch((error: unknown) => {
      if (error instanceof CursorFileError) return Number.POSITIVE_INFINITY;
      throw error;
    });
    if (newestUs !== undefined && savedUs !== undefined && savedUs > newestUs) {
      await cursor.save(newestUs);
      process.stdout.write(`ingest resumes from ${new Date(newestUs / 1000).toISOString()}, the newest event in the backup (${config.ingest.cursorFile})\n`);
    }
  } finally {
    await client.close();
  }
}

main().catch((error: unknown) => {
  const known = [UsageError, InvalidConfigError, BackupNameError, StoreNotEmptyError, BackupFailedError].some((type) => error instanceof type);
  process.stderr.write(`${known ? (error as Error).message : error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
