import { existsSync } from 'node:fs';
import { createClickHouseClient, CurationVersionRepository, type ClickHouseClient } from '#lib/clickhouse';
import type { AppConfig } from '#lib/config';
import { CurationStore, InvalidCurationError, loadCurationFile, type Curation } from '#lib/curation';

/** The curation a command acts on, and where it came from. */
export interface CurationInForce {
  curation: Curation;
  /** The stored version taken, or the curator file read because the store could not be (and why). */
  source: { version: number } | { file: string; storeUnreadable: string };
}

/**
 * The curation in force: the newest version in the store (ClickHouse), which holds the edits made
 * through the admin API and the console as well as the curator file's imports. It is only read: a
 * command never imports the curator file (a copy of it that differs would become the newest
 * version, and every service would drop the console's edits). When the store cannot be read (no
 * server at its address, embedded ClickHouse open in the running app, no store or no version yet)
 * the curator file is read instead, and `source` says why.
 *
 * @NOTE The commands that publish what the services do (`labeler:setup`, `feed:publish`) read
 * this, not the file alone: a community added in the console is labelled by the ranker, so the
 * labeler record must declare its values too.
 */
export async function readCurationInForce(config: AppConfig): Promise<CurationInForce> {
  const file = config.feedGenerator.feedsFile;
  const store = config.clickhouse;
  // chDB would make an empty store where there is none: there is nothing in it to read.
  if (store.kind === 'embedded' && store.path !== ':memory:' && !existsSync(store.path)) {
    return { curation: await loadCurationFile(file), source: { file, storeUnreadable: `no embedded ClickHouse at ${store.path}` } };
  }
  let client: ClickHouseClient | undefined;
  try {
    client = createClickHouseClient(store);
    const { snapshot } = await new CurationStore(file, new CurationVersionRepository(client, store.database)).refresh();
    return { curation: snapshot.curation, source: { version: snapshot.version } };
  } catch (error) {
    const why = error instanceof InvalidCurationError ? `no good version stored: ${error.message}` : (error as Error).message;
    return { curation: await loadCurationFile(file), source: { file, storeUnreadable: why } };
  } finally {
    await client?.close();
  }
}

/** One line for a command's output: which curation it acted on. */
export function describeCurationSource({ source }: CurationInForce): string {
  if ('version' in source) return `The curation in force: stored version ${source.version}.`;
  return (
    `The curation store could not be read (${source.storeUnreadable}): read the curator file ${source.file}, ` +
    'which lacks edits made through the admin API or console since its last export. With embedded ClickHouse, stop the app first.'
  );
}
