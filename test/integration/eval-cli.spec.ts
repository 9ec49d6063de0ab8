import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readlink, rm } from 'node:fs/promises';
import { once } from 'node:events';
import os from 'node:os';
import path from 'node:path';
import { evalEntry, waitFor } from '#lib/testing';

/** Whether the process holds a file open under `folder` (chDB keeps its `status` file open). */
async function holdsFileUnder(pid: number, folder: string): Promise<boolean> {
  const fds = await readdir(`/proc/${pid}/fd`).catch(() => [] as string[]);
  for (const fd of fds) {
    const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
    if (target.startsWith(`${folder}/`)) return true;
  }
  return false;
}

describe('npm run eval, interrupted', () => {
  // Each moment is reached by what the CLI prints or by the files it holds open; the signal lands a
  // few milliseconds later.
  it.each([
    ['SIGINT', 130, 'once the keys are made, as the app is about to start', /: keys\s+done/],
    ['SIGTERM', 143, 'while the app starts, chDB holding its folder', 'chDB'],
    ['SIGINT', 130, 'during the replay', /: replay/],
  ] as const)('on %s exits with %i %s, and leaves no data behind', async (signal, code, _moment, moment) => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'cg-eval-interrupted-'));
    const child = spawn(process.execPath, [evalEntry, '--synthetic', '--data-dir', dataDir], {
      env: { PATH: process.env.PATH ?? '' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
    try {
      const reached =
        moment === 'chDB'
          ? async () => {
              const [run] = await readdir(dataDir);
              return run !== undefined && (await holdsFileUnder(child.pid!, path.join(dataDir, run, 'clickhouse')));
            }
          : () => moment.test(stderr);
      await waitFor(`the run to reach ${moment}`, reached, { timeoutMs: 60_000, intervalMs: 5, context: () => stderr });
      expect(await readdir(dataDir)).toHaveLength(1);
      child.kill(signal);
      const [exitCode] = await exited;
      expect(exitCode).toBe(code);
      expect(await readdir(dataDir)).toEqual([]);
      // A run stopped under it is not an error to report.
      expect(stderr).not.toMatch(/Error|npm run eval:/);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

describe('npm run eval, its data folder', () => {
  it('refuses a --data-dir that is not a folder, with exit code 2 and the usage', async () => {
    const missing = path.join(os.tmpdir(), `cg-eval-missing-${process.pid}`);
    const child = spawn(process.execPath, [evalEntry, '--synthetic', '--data-dir', missing], { env: { PATH: process.env.PATH ?? '' }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const [exitCode] = (await once(child, 'exit')) as [number | null];
    expect(exitCode).toBe(2);
    expect(stderr).toContain(`npm run eval: --data-dir: "${missing}" is not a folder`);
    expect(stderr).toContain('Usage:');
  });
});
