#!/usr/bin/env node
// A throwaway PostgreSQL for tests: Debian's packages, a fresh cluster in a temp folder, a free port on 127.0.0.1.
//
//   import { startPostgres } from '../scripts/postgres.mjs';
//   const pg = await startPostgres();   // { url, port, dir, stop() }
//   ...
//   await pg.stop();                    // pg_ctl stop -m fast, then the folder is removed
//
// CLI:
//   node scripts/postgres.mjs start             runs until Ctrl-C / SIGTERM, then stops and cleans up
//   node scripts/postgres.mjs start --detach    prints {"url","dir"} as JSON and exits, leaving it running
//   node scripts/postgres.mjs stop <dir>        stops a detached one and removes its folder
//   node scripts/postgres.mjs install           only makes sure the binaries are installed
import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const PG_ROOT = '/usr/lib/postgresql';
const OS_USER = 'postgres';
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

export class PostgresError extends Error {
  name = 'PostgresError';
}

/** The newest `/usr/lib/postgresql/<version>/bin` that has both `initdb` and `postgres`, or undefined. */
export function findPostgresBin() {
  if (!existsSync(PG_ROOT)) return undefined;
  const versions = readdirSync(PG_ROOT)
    .filter((name) => /^\d+$/.test(name))
    .sort((a, b) => Number(b) - Number(a));
  for (const version of versions) {
    const bin = path.join(PG_ROOT, version, 'bin');
    if (['initdb', 'postgres', 'pg_ctl'].every((tool) => existsSync(path.join(bin, tool)))) return bin;
  }
  return undefined;
}

/** Installs Debian's `postgresql` when its binaries are missing; returns the bin folder. */
export function ensurePostgres() {
  const found = findPostgresBin();
  if (found) return found;
  if (!isRoot) throw new PostgresError(`PostgreSQL binaries not found under ${PG_ROOT} and not root: apt-get install postgresql`);
  // @NOTE policy-rc.d (exit 101) keeps the package's post-install from starting the default cluster as a service:
  // we only want the binaries, and a stray server on 5432 would outlive the tests.
  const policy = '/usr/sbin/policy-rc.d';
  const ownPolicy = !existsSync(policy);
  if (ownPolicy) writeFileSync(policy, '#!/bin/sh\nexit 101\n', { mode: 0o755 });
  try {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    execFileSync('apt-get', ['update'], { stdio: ['ignore', 'ignore', 'inherit'], env });
    execFileSync('apt-get', ['install', '-y', '--no-install-recommends', 'postgresql'], { stdio: ['ignore', 'ignore', 'inherit'], env });
  } finally {
    if (ownPolicy) unlinkSync(policy);
  }
  const bin = findPostgresBin();
  if (!bin) throw new PostgresError('apt-get install postgresql finished but no initdb/postgres was found');
  return bin;
}

/** Runs a PostgreSQL tool as the `postgres` OS user when we are root (initdb and postgres refuse to run as root). */
function runAsOwner(command, args, options = {}) {
  const [file, argv] = isRoot ? ['runuser', ['-u', OS_USER, '--', command, ...args]] : [command, args];
  return execFileSync(file, argv, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...options });
}

function ownerIds() {
  const uid = Number(execFileSync('id', ['-u', OS_USER], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', OS_USER], { encoding: 'utf8' }).trim());
  return { uid, gid };
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function describe(error) {
  const stderr = error?.stderr ? String(error.stderr).trim() : '';
  return stderr ? `${error.message}\n${stderr}` : String(error?.message ?? error);
}

function stopCluster(bin, dir, mode = 'fast') {
  const dataDir = path.join(dir, 'data');
  if (existsSync(path.join(dataDir, 'postmaster.pid'))) {
    runAsOwner(path.join(bin, 'pg_ctl'), ['stop', '-D', dataDir, '-m', mode, '-w', '-t', '30']);
  }
  rmSync(dir, { recursive: true, force: true });
}

/**
 * Starts a fresh PostgreSQL cluster and returns its connection URL.
 * @param {{ baseDir?: string, stopOnExit?: boolean, log?: (message: string) => void }} [options]
 *   stopOnExit (default true): also stop the cluster when this process exits without calling stop().
 * @returns {Promise<{ url: string, port: number, dir: string, stop: () => Promise<void> }>}
 */
export async function startPostgres(options = {}) {
  const bin = ensurePostgres();
  const baseDir = options.baseDir ?? tmpdir();
  mkdirSync(baseDir, { recursive: true });
  const dir = mkdtempSync(path.join(baseDir, 'cg-postgres-'));
  const dataDir = path.join(dir, 'data');
  const socketDir = path.join(dir, 'socket');
  mkdirSync(socketDir);
  if (isRoot) {
    const { uid, gid } = ownerIds();
    chownSync(dir, uid, gid);
    chownSync(socketDir, uid, gid);
  }

  let started = false;
  try {
    try {
      runAsOwner(path.join(bin, 'initdb'), ['-D', dataDir, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-locale', '--no-sync']);
    } catch (error) {
      throw new PostgresError(`initdb failed in ${dir} (is it reachable by the ${OS_USER} user?): ${describe(error)}`);
    }
    const port = await freePort();
    // @NOTE durability is pointless for a throwaway test cluster: fsync and friends off make the schema migrations
    // of the AT Protocol services several times faster.
    const serverOptions = [
      `-p ${port}`,
      `-h 127.0.0.1`,
      `-k ${socketDir}`,
      '-c fsync=off',
      '-c synchronous_commit=off',
      '-c full_page_writes=off',
      '-c max_connections=200',
    ].join(' ');
    try {
      runAsOwner(path.join(bin, 'pg_ctl'), ['start', '-D', dataDir, '-l', path.join(dir, 'postgres.log'), '-o', serverOptions, '-w', '-t', '60']);
    } catch (error) {
      throw new PostgresError(`pg_ctl start failed (log: ${path.join(dir, 'postgres.log')}): ${describe(error)}`);
    }
    started = true;
    runAsOwner(path.join(bin, 'pg_isready'), ['-h', '127.0.0.1', '-p', String(port), '-t', '30']);
    options.log?.(`postgres ready on 127.0.0.1:${port} (${dir})`);

    let stopped = false;
    const stopSync = () => {
      if (stopped) return;
      stopped = true;
      stopCluster(bin, dir, 'fast');
    };
    // Last resort if the owner forgets stop() or the process exits early: never leave a server behind.
    const onExit = () => {
      try {
        stopSync();
      } catch {
        // exiting anyway: nothing more we can do
      }
    };
    if (options.stopOnExit !== false) process.once('exit', onExit);
    return {
      url: `postgresql://postgres@127.0.0.1:${port}/postgres`,
      port,
      dir,
      stop: async () => {
        process.removeListener('exit', onExit);
        stopSync();
      },
    };
  } catch (error) {
    if (started) {
      try {
        stopCluster(bin, dir, 'immediate');
      } catch {
        // reported below via the original error
      }
    }
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

async function cli(argv) {
  const [command, ...rest] = argv;
  if (command === 'install') {
    console.log(ensurePostgres());
    return;
  }
  if (command === 'stop') {
    const dir = rest[0];
    if (!dir || !existsSync(path.join(dir, 'data'))) throw new PostgresError(`usage: postgres.mjs stop <dir> (no cluster in ${dir})`);
    stopCluster(ensurePostgres(), dir, 'fast');
    return;
  }
  if (command !== 'start') {
    console.error('usage: node scripts/postgres.mjs start [--detach] | stop <dir> | install');
    process.exitCode = 2;
    return;
  }
  const detach = rest.includes('--detach');
  // Detached: the caller owns the cluster now; `stop <dir>` shuts it down.
  const pg = await startPostgres({ stopOnExit: !detach });
  if (detach) {
    console.log(JSON.stringify({ url: pg.url, dir: pg.dir }));
    return;
  }
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
