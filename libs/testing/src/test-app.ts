import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, type AppConfig } from '#lib/config';
import type { RunningApp, startApp } from '#services/app';
import { testAppEnv } from './test-app.env.js';

/** An app started inside the test process, in a folder of its own that `close()` removes. */
export interface TestApp extends RunningApp {
  /** The app's folder: its data and its curator file. */
  dir: string;
  feedsFile: string;
  config: AppConfig;
}

/**
 * Writes `feeds` as the curator file of a fresh folder and starts the app on it, with the
 * environment of `testAppEnv` (ClickHouse in memory under a database of its own, free loopback
 * ports, no logs). `configure` adjusts the loaded configuration (a role, say) before the start.
 */
export async function startTestApp(options: {
  /** Prefix of the folder and of the ClickHouse database. */
  name: string;
  /** The curator file's text. */
  feeds: string;
  /** More files of the app's folder (its data folder), by name, written before it starts: a saved ingest cursor, say. */
  files?: Record<string, string>;
  jetstreamUrl?: string;
  overrides?: Record<string, string>;
  configure?: (config: AppConfig) => AppConfig;
  start?: Parameters<typeof startApp>[1];
}): Promise<TestApp> {
  const dir = await mkdtemp(path.join(os.tmpdir(), `cg-${options.name}-`));
  try {
    const feedsFile = path.join(dir, 'feeds.yaml');
    await writeFile(feedsFile, options.feeds);
    for (const [name, text] of Object.entries(options.files ?? {})) await writeFile(path.join(dir, name), text);
    const loaded = loadConfig(testAppEnv({ name: options.name, dataDir: dir, feedsFile, jetstreamUrl: options.jetstreamUrl, overrides: options.overrides }));
    const config = options.configure?.(loaded) ?? loaded;
    // @NOTE The app's modules load on the first start, not with this library: every spec imports
    // #lib/testing, and the ones that start no app in their own process (most spawn it, or start
    // none) would each pay ~2 s of CPU loading NestJS, chDB and every service for nothing.
    const { startApp: start } = await import('#services/app');
    const running = await start(config, options.start);
    return {
      ...running,
      dir,
      feedsFile,
      config,
      close: async () => {
        try {
          await running.close();
        } finally {
          await rm(dir, { recursive: true, force: true });
        }
      },
    };
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}
