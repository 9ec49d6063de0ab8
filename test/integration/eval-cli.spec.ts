import { mkdtemp, readdir, readlink, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { AppProcess, evalEntry, waitFor } from '#lib/testing';

/** Whether the process holds a file open under `folder` (chDB keeps its `status` file open). */
async function holdsFileUnder(pid: number, folder: string): Promise<boolean> {
  const fds = await readdir(`/proc/${pid}/fd`).catch(() => [] as string[]);
  for (const fd of fds) {
    const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
    if (target.startsWith(`${folder}/`)) return true;
  }
  return false;
}

/** `npm run eval` with `args`, started; resolves its exit code once it exits. */
function startEval(args: string[]): { evaluation: AppProcess; exited: Promise<number | null> } {
  const evaluation = new AppProcess('npm run eval', evalEntry, {}, args).start();
  const exited = new Promise<number | null>((resolve) => evaluation.onExit((code) => resolve(code)));
  return { evaluation, exited };
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
    const { evaluation } = startEval(['--synthetic', '--data-dir', dataDir]);
    const output = () => evaluation.output.join('\n');
    try {
      const reached =
        moment === 'chDB'
          ? async () => {
              const [run] = await readdir(dataDir);
              return run !== undefined && (await holdsFileUnder(evaluation.pid!, path.join(dataDir, run, 'clickhouse')));
            }
          : () => moment.test(output());
      await waitFor(`the run to reach ${String(moment)}`, reached, { timeoutMs: 60_000, intervalMs: 5, context: output });
      expect(await readdir(dataDir)).toHaveLength(1);
      expect(await evaluation.stop(signal)).toBe(code);
      expect(await readdir(dataDir)).toEqual([]);
      // A run stopped under it is not an error to report.
      expect(output()).not.toMatch(/Error|npm run eval:/);
    } finally {
      await evaluation.stop('SIGKILL');
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

describe('npm run eval, its data folder', () => {
  it('refuses a --data-dir that is not a folder, with exit code 2 and the usage', async () => {
    const missing = path.join(os.tmpdir(), `cg-eval-missing-${process.pid}`);
    const { evaluation, exited } = startEval(['--synthetic', '--data-dir', missing]);
    expect(await exited).toBe(2);
    expect(evaluation.output).toContain(`npm run eval: --data-dir: "${missing}" is not a folder`);
    expect(evaluation.output).toContain('Usage:');
  });
});
