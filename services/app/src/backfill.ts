import { parseArgs } from 'node:util';
import { Module, type DynamicModule } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { InvalidConfigError, loadConfig, type AppConfig } from '#lib/config';
import { InvalidCurationError } from '#lib/curation';
import { CurationService, PlatformModule, terminalProgressReport } from '#lib/platform';
import { BackfillModule, BackfillService } from '#services/backfill';

/** A mistake on the command line: said, with the usage, and nothing run. */
class BackfillUsageError extends Error {
  override name = 'BackfillUsageError';
}

@Module({})
class BackfillCommandModule {
  static forConfig(config: AppConfig): DynamicModule {
    return { module: BackfillCommandModule, imports: [PlatformModule.forRoot({ config }), BackfillModule] };
  }
}

/** `npm run backfill -- --community <id> […]`: backfills communities now, with a progress bar, and says what it did. */
async function main(): Promise<void> {
  const { values } = parseArgs({ options: { community: { type: 'string', multiple: true } } });
  const ids = values.community ?? [];
  if (ids.length === 0) throw new BackfillUsageError('usage: npm run backfill -- --community <id> [--community <id> …]');
  const loaded = loadConfig();
  // The command runs only what it is asked: no background runs, warnings and errors only in the log.
  const config: AppConfig = { ...loaded, logLevel: 'warn', backfill: { ...loaded.backfill, enabled: false } };
  const app = await NestFactory.createApplicationContext(BackfillCommandModule.forConfig(config), { logger: false });
  try {
    // The curation in force (stored in ClickHouse, the curator file as its seed), as every role reads it.
    const curation = app.get(CurationService).current;
    const unknown = ids.filter((id) => !curation.communities.has(id));
    if (unknown.length > 0) {
      throw new BackfillUsageError(`unknown communit${unknown.length === 1 ? 'y' : 'ies'} ${unknown.join(', ')}; the curation defines ${[...curation.communities.keys()].join(', ')}`);
    }
    const summary = await app.get(BackfillService).run({ communityIds: ids, curation, report: terminalProgressReport() });
    process.stdout.write(
      [
        `communities  ${summary.communities.join(', ')}`,
        `members      ${summary.members}`,
        `membership   ${summary.membershipRecords} records (list items, starter packs, follows)`,
        `accounts     ${summary.accounts.done} backfilled, ${summary.accounts.skipped} already backfilled, ${summary.accounts.failed} failed`,
        `ages         ${summary.dated} creation times found for members already backfilled`,
        `records      ${summary.records}`,
        `took         ${summary.seconds.toFixed(1)} s`,
      ].join('\n') + '\n',
    );
  } finally {
    await app.close();
  }
}

main().catch((error: unknown) => {
  const known = error instanceof BackfillUsageError || error instanceof InvalidConfigError || error instanceof InvalidCurationError;
  process.stderr.write(`${known ? error.message : error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
