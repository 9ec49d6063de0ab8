#!/usr/bin/env node
// Debian's Chromium for the browser tests (driven by playwright-core, which ships no browser).
// Installed with apt-get when missing; the tests run as root on Debian machines.
//
//   node scripts/chromium.mjs            # installs Chromium if needed and prints its path
//
// Programmatic: `const executablePath = await ensureChromium();`
import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import { invokedDirectly } from './invoked-directly.mjs';

/** Where Debian's `chromium` package puts the browser, then other usual names on the PATH. */
const CANDIDATES = ['/usr/bin/chromium', '/usr/lib/chromium/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];
const INSTALL_TIMEOUT_MS = 15 * 60_000;

/**
 * Flags every test launch uses: headless on a machine without a display, GPU or user namespaces, and
 * nothing that reaches the network on its own.
 */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-dev-shm-usage',
];

/** @param {string} file */
function isExecutable(file) {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** @returns {string | undefined} */
export function findChromium() {
  const fromEnv = process.env.CHROMIUM_PATH;
  if (fromEnv && isExecutable(fromEnv)) return fromEnv;
  for (const file of CANDIDATES) if (isExecutable(file)) return file;
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    for (const name of ['chromium', 'chromium-browser']) {
      const file = path.join(dir, name);
      if (dir && isExecutable(file)) return file;
    }
  }
  return undefined;
}

/** @param {string} command @param {string[]} args */
function run(command, args) {
  return new Promise((resolve, reject) => {
    execFile(
      command,
      args,
      { timeout: INSTALL_TIMEOUT_MS, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } },
      (error, stdout, stderr) => {
        if (!error) return resolve(undefined);
        const detail = `${String(stdout)}\n${String(stderr)}`.trim().split('\n').slice(-20).join('\n');
        reject(new Error(`${command} ${args.join(' ')} failed: ${error.message}\n${detail}`, { cause: error }));
      },
    );
  });
}

let installing;

/**
 * The path of a Chromium executable, installing Debian's `chromium` package first when there is
 * none (`apt-get update && apt-get install -y chromium`; needs root). Concurrent callers share one
 * installation. Set `CHROMIUM_PATH` to use another browser.
 * @returns {Promise<string>}
 */
export async function ensureChromium() {
  const found = findChromium();
  if (found) return found;
  installing ??= (async () => {
    if (typeof process.getuid === 'function' && process.getuid() !== 0) {
      throw new Error('Chromium is not installed and installing it needs root: run `apt-get install -y chromium` or set CHROMIUM_PATH');
    }
    await run('apt-get', ['update']);
    await run('apt-get', ['install', '-y', '--no-install-recommends', 'chromium']);
    const installed = findChromium();
    if (!installed) throw new Error('apt-get installed chromium, but no chromium executable was found');
    return installed;
  })().finally(() => {
    installing = undefined;
  });
  return installing;
}

if (invokedDirectly(import.meta.url)) {
  ensureChromium().then(
    (file) => console.log(file),
    (error) => {
      console.error(error instanceof Error ? error.message : error);
      process.exitCode = 1;
    },
  );
}
