import {
  BackupFailedError,
  BackupNameError,
  createClickHouseClient,
  InterruptedRestoreError,
  LabelRepository,
  StoreBackups,
  StoreNotEmptyError,
  type ClickHouseClient,
} from '#lib/clickhouse';
import { InvalidConfigError, loadConfig, type AppConfig } from '#lib/config';
import { CursorFileError, CursorStore } from '../../ingest/src/cursor.store.js';

const USAGE = 'usage: npm run restore -- <backup name> [--replace]   or   npm run restore -- --put-back';

class UsageError extends Error {
  override name = 'UsageError';
}

/** The embedded store is held by a running process: chDB locks its folder. */
class StoreInUseError extends Error {
  override name = 'StoreInUseError';
}

/**
 * `npm run restore -- <name> [--replace]`: restores the store from a backup (`POST
 * /api/admin/backups`), every process stopped. Then:
 * - the labels are numbered above every number given out before (subscribers hold them as cursors);
 * - the ingest cursor kept beside the store (written if there is none, as on a new machine) is
 *   taken back to the newest event the backup holds, so ingest reads again from Jetstream what came
 *   after (as far back as Jetstream keeps events; writing an event twice changes nothing).
 *
 * `npm run restore -- --put-back` puts back the database a restore stopped halfway set aside.
 */
async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const flags = new Set(args.filter((arg) => arg.startsWith('-')));
  const names = args.filter((arg) => !arg.startsWith('-'));
  const putBack = flags.has('--put-back');
  if ([...flags].some((flag) => flag !== '--replace' && flag !== '--put-back') || (putBack ? names.length > 0 || flags.size > 1 : names.length !== 1)) throw new UsageError(USAGE);
  const config = loadConfig();
  const client = openStore(config);
  try {
    const backups = new StoreBackups(client, config.clickhouse.database);
    if (putBack) {
      const aside = await backups.putBack();
      process.stdout.write(aside ? `put back ${config.clickhouse.database} as it was before the restore (${aside})\n` : `no restore of ${config.clickhouse.database} was interrupted: nothing to put back\n`);
      return;
    }
    const labels = new LabelRepository(client, config.clickhouse.database);
    const numbered = await labels.lastSeq().catch(() => 0);
    const restored = await backups.restore(names[0]!, { replace: flags.has('--replace') });
    process.stdout.write(`restored ${config.clickhouse.database} from ${restored.name} (${restored.files} files, ${restored.bytes} bytes)\n`);
    await labels.keepSequenceAbove(numbered);
    await rewindIngest(config, await backups.newestEventUs());
  } finally {
    await client.close();
  }
}

function openStore(config: AppConfig): ClickHouseClient {
  try {
    return createClickHouseClient(config.clickhouse);
  } catch (error) {
    // chDB opens one data folder per process and locks it (its own line on stderr says so).
    if (config.clickhouse.kind === 'embedded' && (error as Error).name === 'ChdbConnectionError') {
      throw new StoreInUseError(`the store at ${config.clickhouse.path} is in use: stop the app first`, { cause: error });
    }
    throw error;
  }
}

/** Takes ingest's cursor back to `newestUs` (the backup's newest event), or writes it there when there is none. */
async function rewindIngest(config: AppConfig, newestUs: number | undefined): Promise<void> {
  if (newestUs === undefined) return;
  const cursor = new CursorStore(config.ingest.cursorFile);
  const savedUs = await cursor.load(Date.now() * 1000).catch((error: unknown) => {
    if (error instanceof CursorFileError) return Number.POSITIVE_INFINITY;
    throw error;
  });
  if (savedUs !== undefined && savedUs <= newestUs) return;
  await cursor.save(newestUs);
  process.stdout.write(`ingest resumes from ${new Date(newestUs / 1000).toISOString()}, the newest event in the backup (${config.ingest.cursorFile})\n`);
}

main().catch((error: unknown) => {
  const known = [UsageError, StoreInUseError, InvalidConfigError, BackupNameError, StoreNotEmptyError, BackupFailedError, InterruptedRestoreError].some((type) => error instanceof type);
  const message = error instanceof BackupFailedError ? error.message.split('\n')[0]!.replace(/, Stack trace.*$/, '') : (error as Error).message;
  process.stderr.write(`${known ? message : error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
