import { randomInt } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { SeedClient, TestNetwork } from '@atproto/dev-env';
import { AtprotoNetworkError } from './atproto-network.error.js';
import { startFirehoseToJetstream, type FirehoseToJetstream } from './firehose-to-jetstream.js';

/**
 * A whole local Bluesky network: `@atproto/dev-env`'s TestNetwork (PLC directory in memory, PDS, AppView, Bsync,
 * Ozone, all in this process) on a PostgreSQL the caller provides (scripts/postgres.mjs), plus a Jetstream endpoint
 * fed by the PDS firehose. The tests do not start it themselves: they connect to the one network process of the run
 * (`connectAtprotoNetwork`, atproto-network.client.ts), which runs this; benchmarks start it in their own process.
 */
interface AtprotoNetworkOptions {
  /** e.g. the `url` of `startPostgres()` from scripts/postgres.mjs. */
  postgresUrl: string;
  /**
   * Postgres schema prefix (letters and `_` only; dev-env derives `appview_<schema>`, `bsync_<schema>`,
   * `ozone_<schema>` from it). Default: a random one, so runs never share state.
   */
  schema?: string;
  /** Start the firehose → Jetstream translator (default true). */
  jetstream?: boolean;
}

export type Did = `did:${string}:${string}`;

export interface TestAccount {
  did: Did;
  handle: string;
  password: string;
}

export interface AtprotoNetwork {
  /** The dev-env network itself, for anything the helpers below do not cover. */
  readonly network: TestNetwork;
  /** dev-env's seed client (accounts, posts, likes, follows, lists, feed generators, blocks, reposts…). */
  readonly seed: SeedClient<TestNetwork>;
  /** `http://localhost:PORT` */
  readonly pdsUrl: string;
  readonly appviewUrl: string;
  readonly plcUrl: string;
  /** The Jetstream endpoint (`ws://127.0.0.1:PORT/subscribe`) and its translator; undefined with `jetstream: false`. */
  readonly jetstream: FirehoseToJetstream | undefined;
  /** Schema prefix used in Postgres. */
  readonly schema: string;
  /** Per-run temp folder (PDS data, blobs), removed by close(). */
  readonly dataDir: string;
  /** An account `<name>.test` made through the seed client (whose `getHeaders(did)` then writes as it). */
  createAccount(name: string): Promise<TestAccount>;
  /** Resolves when the AppView has indexed everything the PDS sequenced so far. */
  syncAppView(): Promise<void>;
  /** Resolves when the Jetstream translator has seen everything the PDS sequenced so far. */
  syncJetstream(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

const letters = 'abcdefghijklmnopqrstuvwxyz';

function randomSchema(): string {
  let suffix = '';
  for (let i = 0; i < 10; i++) suffix += letters[randomInt(letters.length)];
  return `cg_${suffix}`;
}

function explain(error: unknown): Error {
  const message = error instanceof Error ? error.message : String(error);
  if (/NODE_MODULE_VERSION|better_sqlite3|better-sqlite3/.test(message)) {
    return new AtprotoNetworkError(
      `better-sqlite3 is not built for this Node (${process.version}): run \`node_modules/.bin/node scripts/build-native.mjs\` (npm ci runs it as postinstall). Cause: ${message}`,
    );
  }
  return error instanceof Error ? error : new AtprotoNetworkError(message);
}

export async function startAtprotoNetwork(options: AtprotoNetworkOptions): Promise<AtprotoNetwork> {
  const schema = options.schema ?? randomSchema();
  if (!/^[A-Za-z_]+$/.test(schema)) throw new AtprotoNetworkError(`schema must be letters and _ only, got ${JSON.stringify(schema)}`);

  // @NOTE Imported lazily: dev-env loads the PDS, AppView and Ozone (hundreds of MiB), which nothing else
  // importing this library should pay for.
  const { TestNetwork } = await import('@atproto/dev-env');

  // @NOTE dev-env asserts REDIS_HOST is set, yet runs without Redis in this setup: any value does.
  process.env.REDIS_HOST ??= 'localhost';

  // @NOTE The PDSs (dev-env starts two) put their data folders under os.tmpdir() at start and leave them behind, as
  // does the AppView's image cache: point the temp folder at a per-run one while the network starts, and remove it
  // on close. Setting TMPDIR alone is not enough under Jest, whose `process.env` is a copy that node:os never reads,
  // so os.tmpdir itself is swapped for the duration of create().
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'cg-atproto-'));
  const previousTmpdir = process.env.TMPDIR;
  const realTmpdir = os.tmpdir;
  process.env.TMPDIR = dataDir;
  (os as { tmpdir: () => string }).tmpdir = () => dataDir;
  let network: TestNetwork;
  try {
    network = await TestNetwork.create({ dbPostgresUrl: options.postgresUrl, dbPostgresSchema: schema });
  } catch (error) {
    rmSync(dataDir, { recursive: true, force: true });
    throw explain(error);
  } finally {
    (os as { tmpdir: () => string }).tmpdir = realTmpdir;
    if (previousTmpdir === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = previousTmpdir;
  }

  const caughtUp = async (translator: FirehoseToJetstream, timeoutMs: number): Promise<void> => {
    const head = await network.pds.ctx.sequencer.curr();
    if (head !== null && head !== undefined) await translator.waitForSeq(head, timeoutMs);
  };

  let jetstream: FirehoseToJetstream | undefined;
  if (options.jetstream !== false) {
    try {
      jetstream = await startFirehoseToJetstream({ service: network.pds.url });
      // The translator replays the PDS history from seq 0: wait for it, so that a client connecting without a
      // cursor ("live") sees only what the test does next, not dev-env's own setup records arriving late.
      await caughtUp(jetstream, 30_000);
    } catch (error) {
      await jetstream?.close();
      await network.close();
      rmSync(dataDir, { recursive: true, force: true });
      throw error;
    }
  }

  const seed = network.getSeedClient();
  let closed = false;

  return {
    network,
    seed,
    pdsUrl: network.pds.url,
    appviewUrl: network.bsky.url,
    plcUrl: network.plc.url,
    jetstream,
    schema,
    dataDir,
    createAccount: async (name: string) => {
      const handle = `${name}.test` as const;
      const password = `${name}-pass`;
      const account = await seed.createAccount(name, { handle, email: `${name}@test.invalid`, password });
      return { did: account.did, handle: account.handle, password };
    },
    syncAppView: () => network.processAll(),
    syncJetstream: async (timeoutMs = 10_000) => {
      if (!jetstream) throw new AtprotoNetworkError('started with jetstream: false');
      await caughtUp(jetstream, timeoutMs);
    },
    close: async () => {
      if (closed) return;
      closed = true;
      try {
        await jetstream?.close();
      } finally {
        try {
          await network.close();
        } finally {
          rmSync(dataDir, { recursive: true, force: true });
          releasePortClaims();
        }
      }
    },
  };
}

/**
 * dev-env claims ports as files in `<tmpdir>/atproto-dev-env-ports-<uid>` (shared by every dev-env process of
 * the user), each holding the claiming pid, and removes its own on process exit: a handler that never runs under
 * Jest, whose `process` is the sandbox's. So on close, remove this process's claims and, if no other process
 * holds any, the folder.
 */
function releasePortClaims(): void {
  const dir = path.join(os.tmpdir(), `atproto-dev-env-ports-${process.getuid?.() ?? 'unknown'}`);
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return;
  }
  for (const entry of entries) {
    const file = path.join(dir, entry);
    try {
      if (readFileSync(file, 'utf8').trim() === String(process.pid)) rmSync(file, { force: true });
    } catch {
      // Gone already, or another process's entry changing under us: not ours to handle.
    }
  }
  try {
    rmdirSync(dir);
  } catch {
    // Not empty: other dev-env processes hold ports.
  }
}
