#!/usr/bin/env node
// Compiles the TypeScript of libs/, services/, eval/ and bench/ to dist/ with swc (decorators and their
// metadata included, as NestJS needs). Type-checking is `npm run typecheck`, separately.
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
rmSync(path.join(root, 'dist'), { recursive: true, force: true });
const result = spawnSync(
  path.join(root, 'node_modules', '.bin', 'swc'),
  ['libs', 'services', 'eval', 'bench', '-d', 'dist', '--quiet', '--ignore', '**/*.spec.ts'],
  { cwd: root, stdio: 'inherit' },
);
process.exit(result.status ?? 1);
