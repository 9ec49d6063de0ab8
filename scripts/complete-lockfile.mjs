#!/usr/bin/env node
// Completes package-lock.json with the platform-specific optional packages the registry did not
// describe when the lockfile was written (prebuilt binaries for other systems: @swc/core-darwin-*,
// @chdb/lib-darwin-*, …). Without their entries `npm ci` refuses the lockfile as out of sync.
//
// Each entry carries the package's os/cpu/libc, read from its name, so npm skips it on other
// platforms and fetches it by version on its own. Run after every dependency change:
//   npm install && npm run lockfile
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const file = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'package-lock.json');
const lock = JSON.parse(readFileSync(file, 'utf8'));
const packages = lock.packages;

const OS = /(darwin|win32|linux|freebsd|android|openharmony|sunos|aix)/;
const CPU = /(arm64|x64|ia32|arm|ppc64|s390x|riscv64|loong64|wasm32)/;

let added = 0;
for (const [location, meta] of Object.entries(packages)) {
  for (const [name, version] of Object.entries(meta.optionalDependencies ?? {})) {
    const nested = `${location ? `${location}/` : ''}node_modules/${name}`;
    const hoisted = `node_modules/${name}`;
    if (packages[nested] || packages[hoisted]) continue;
    const base = name.split('/').at(-1);
    const entry = { version, optional: true };
    const os = OS.exec(base)?.[1];
    const cpu = CPU.exec(base)?.[1];
    if (os) entry.os = [os];
    if (cpu) entry.cpu = [cpu];
    if (os === 'linux' && /musl/.test(base)) entry.libc = ['musl'];
    else if (os === 'linux' && /gnu/.test(base)) entry.libc = ['glibc'];
    packages[hoisted] = entry;
    added += 1;
  }
}
writeFileSync(file, `${JSON.stringify(lock, null, 2)}\n`);
console.log(`[lockfile] added ${added} platform-specific optional package entries`);
