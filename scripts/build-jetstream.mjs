#!/usr/bin/env node
// Builds the real Jetstream (github.com/bluesky-social/jetstream, Go) into .cache/bin/jetstream through the Go
// module proxy, once; later runs reuse the binary.
//
//   node scripts/build-jetstream.mjs [version]     version defaults to `latest`
//
// Exit codes: 0 built or cached (prints the binary's path), 3 not obtainable here (prints why), 1 other failure.
//
// @NOTE As of this writing the Go module proxy answers 403 "This module version is not available" for
// github.com/bluesky-social/jetstream (any version, any package path), so this exits 3 on our machines and the e2e
// harness serves Jetstream from libs/testing/src/atproto-network/firehose-to-jetstream.ts instead.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const binDir = path.join(root, '.cache', 'bin');
const binary = path.join(binDir, 'jetstream');
const pkg = 'github.com/bluesky-social/jetstream/cmd/jetstream';

/**
 * @param {{ version?: string }} [options]
 * @returns {{ ok: true, path: string, cached: boolean } | { ok: false, unavailable: boolean, reason: string }}
 */
export function buildJetstream(options = {}) {
  if (existsSync(binary)) return { ok: true, path: binary, cached: true };
  const go = spawnSync('go', ['version'], { encoding: 'utf8' });
  if (go.error || go.status !== 0) return { ok: false, unavailable: true, reason: 'no Go toolchain on PATH' };
  mkdirSync(binDir, { recursive: true });
  const result = spawnSync('go', ['install', `${pkg}@${options.version ?? 'latest'}`], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, GOBIN: binDir },
    timeout: 15 * 60 * 1000,
  });
  if (result.status === 0 && existsSync(binary)) return { ok: true, path: binary, cached: false };
  const output = `${result.stdout ?? ''}${result.stderr ?? ''}`.trim() || String(result.error ?? `exit ${result.status}`);
  const unavailable = /403 Forbidden|404 Not Found|not available|no matching versions|unknown revision/i.test(output);
  return { ok: false, unavailable, reason: output };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const outcome = buildJetstream({ version: process.argv[2] });
  if (outcome.ok) {
    console.log(outcome.path);
  } else {
    console.error(`[build-jetstream] cannot build ${pkg}: ${outcome.reason}`);
    process.exitCode = outcome.unavailable ? 3 : 1;
  }
}
