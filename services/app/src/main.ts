import 'reflect-metadata';
import { InvalidConfigError, loadConfig } from '#lib/config';
import { InvalidCurationError } from '#lib/curation';
import { startApp } from './app.factory.js';

/** Entry point for every role: `CG_ROLE=all` (default, embedded), `ingest`, `scoring`, `feed-generator`. */
async function main(): Promise<void> {
  const config = loadConfig();
  const running = await startApp(config);
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    running.logger.info({ signal }, 'shutting down: draining in-flight work');
    const timer = setTimeout(() => {
      running.logger.error('shutdown took longer than 30 s; exiting');
      process.exit(1);
    }, 30_000);
    await running.close();
    clearTimeout(timer);
    process.exit(0);
  };
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));
}

main().catch((error: unknown) => {
  if (error instanceof InvalidConfigError || error instanceof InvalidCurationError) {
    process.stderr.write(`${error.message}\n`);
  } else {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  }
  process.exit(1);
});
