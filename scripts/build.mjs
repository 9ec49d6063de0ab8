#!/usr/bin/env node
// Compiles the TypeScript of libs/, services/, eval/ and bench/ to dist/ with swc (decorators and their
// metadata included, as NestJS needs), and copies the console's page and stylesheet beside its
// compiled browser modules. Type-checking is `npm run typecheck`, separately.
import { spawnSync } from 'node:child_process';
import { cpSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
rmSync(path.join(root, 'dist'), { recursive: true, force: true });
const result = spawnSync(
  path.join(root, 'node_modules', '.bin', 'swc'),
  ['libs', 'services', 'eval', 'bench', '-d', 'dist', '--quiet', '--ignore', '**/*.spec.ts'],
  { cwd: root, stdio: 'inherit' },
);
if (result.status === 0) {
  const web = path.join('services', 'feed-generator', 'src', 'console', 'web');
  cpSync(path.join(root, web), path.join(root, 'dist', web), {
    recursive: true,
    filter: (source) => !path.extname(source) || /\.(css|html)$/.test(source),
  });
}
process.exit(result.status ?? 1);
