#!/usr/bin/env node
// The Chromium of the browser tests (driven by playwright-core, which ships no browser): the
// headless build that the `@sparticuz/chromium` package carries (from npm, no system install, no
// root), unpacked once under .cache/chromium/<version>. CHROMIUM_PATH names another browser to use.
//
//   node scripts/chromium.mjs            # unpacks Chromium if needed and prints its path
//
// Programmatic: `const executablePath = await ensureChromium();`
import { execFile } from 'node:child_process';
import { accessSync, constants, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { invokedDirectly } from './invoked-directly.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const PACKAGE = '@sparticuz/chromium';
const UNPACK_TIMEOUT_MS = 5 * 60_000;

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

/** Where the packaged Chromium is unpacked: one folder per package version. */
function unpackDir() {
  const { version } = JSON.parse(readFileSync(path.join(root, 'node_modules', PACKAGE, 'package.json'), 'utf8'));
  return path.join(root, '.cache', 'chromium', version);
}

/**
 * A Chromium executable that needs no unpacking: `CHROMIUM_PATH`, or the packaged one when it was
 * unpacked before.
 * @returns {string | undefined}
 */
export function findChromium() {
  const fromEnv = process.env.CHROMIUM_PATH;
  if (fromEnv) return isExecutable(fromEnv) ? fromEnv : undefined;
  const unpacked = path.join(unpackDir(), 'chromium');
  return isExecutable(unpacked) ? unpacked : undefined;
}

let unpacking;

/**
 * The path of a Chromium executable: `CHROMIUM_PATH`, or the packaged Chromium, unpacked on first
 * use. Concurrent callers share one unpacking.
 *
 * @NOTE The package unpacks into `os.tmpdir()`. It runs in a child process whose TMPDIR is our
 * cache folder, so the browser lands under .cache (kept between runs, ignored by git) and this
 * process's own TMPDIR is never touched.
 * @returns {Promise<string>}
 */
export async function ensureChromium() {
  if (process.env.CHROMIUM_PATH) {
    const found = findChromium();
    if (!found) throw new Error(`CHROMIUM_PATH=${process.env.CHROMIUM_PATH} is not an executable`);
    return found;
  }
  const found = findChromium();
  if (found) return found;
  unpacking ??= new Promise((resolve, reject) => {
    const dir = unpackDir();
    mkdirSync(dir, { recursive: true });
    const script = `import(${JSON.stringify(PACKAGE)}).then((m) => m.default.executablePath()).then((p) => process.stdout.write(p))`;
    execFile(process.execPath, ['-e', script], { cwd: root, timeout: UNPACK_TIMEOUT_MS, env: { ...process.env, TMPDIR: dir } }, (error, stdout, stderr) => {
      if (error) return reject(new Error(`unpacking ${PACKAGE} failed: ${error.message}\n${String(stderr).trim()}`, { cause: error }));
      const executable = String(stdout).trim();
      if (!isExecutable(executable)) return reject(new Error(`${PACKAGE} unpacked no executable at ${executable}`));
      resolve(executable);
    });
  }).finally(() => {
    unpacking = undefined;
  });
  return unpacking;
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
