import path from 'node:path';
import { AppProcess, chdbHttpEntry } from '../app-process.js';
import { AtprotoNetworkError } from './atproto-network.error.js';

/**
 * The environment variable through which scripts/test.mjs hands the run's network (its control URL) to the tests.
 * @NOTE Read by `connectAtprotoNetwork`, not through libs/config: it belongs to the test harness, as
 * CG_TEST_KAFKA_BROKERS does.
 */
export const ATPROTO_NETWORK_ENV = 'CG_TEST_ATPROTO_NETWORK';

/** The built entry point of the network process (atproto-network.main.ts), beside the other test entry points. */
export const atprotoNetworkEntry = path.join(path.dirname(chdbHttpEntry), 'atproto-network', 'atproto-network.main.js');

/** A local Bluesky network running in a process of its own. */
export interface AtprotoNetworkProcess {
  /** The control API (atproto-network.control.ts): give it to `connectAtprotoNetwork`. */
  readonly controlUrl: string;
  /** Stops the network; rejects, with what was left, when the process could not clean up after itself. */
  stop(): Promise<void>;
}

const startTimeoutMs = 240_000;

/**
 * Starts the network process from the build (scripts/test.mjs does this once per run; a test file run on its own
 * does it through `connectAtprotoNetwork`). Resolves once the network serves.
 */
export async function startAtprotoNetworkProcess(): Promise<AtprotoNetworkProcess> {
  const child = new AppProcess('atproto-network', atprotoNetworkEntry, {}).start();
  let controlUrl: string;
  try {
    ({ controlUrl } = await child.firstJsonLine<{ controlUrl: string }>('controlUrl', startTimeoutMs));
  } catch (error) {
    await child.stop('SIGKILL');
    throw new AtprotoNetworkError(`the local AT Protocol network did not start: ${error instanceof Error ? error.message : String(error)}`);
  }
  return {
    controlUrl,
    stop: async () => {
      const code = await child.stop('SIGTERM');
      const report = child.jsonLines().find((value) => 'stopped' in value);
      if (code !== 0) throw new AtprotoNetworkError(`the local AT Protocol network did not stop cleanly (exit ${code}): ${JSON.stringify(report?.leftovers ?? child.output.slice(-20))}`);
    },
  };
}
