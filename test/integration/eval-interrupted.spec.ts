import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readlink } from 'node:fs/promises';
import { once } from 'node:events';
import { evalEntry, waitFor } from '#lib/testing';

/** The run folder (`…/cg-eval-XXXXXX`) of a process, from the files it holds open (chDB keeps its `status` file open). */
async function openRunFolder(pid: number): Promise<string | undefined> {
  const fds = await readdir(`/proc/${pid}/fd`).catch(() => [] as string[]);
  for (const fd of fds) {
    const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
    const folder = /^(.*\/cg-eval-[^/]+)\//.exec(target)?.[1];
    if (folder) return folder;
  }
  return undefined;
}

describe('npm run eval, interrupted', () => {
  it.each([
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const)('on %s removes the data folder of the run under way and exits with %i', async (signal, code) => {
    const child = spawn(process.execPath, [evalEntry, '--synthetic', '--quiet'], {
      env: { PATH: process.env.PATH ?? '', ...(process.env.TMPDIR && { TMPDIR: process.env.TMPDIR }) },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const stderr: string[] = [];
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk.toString()));
    const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
    try {
      // The run's chDB is open once its folder holds an open file: the replay is under way.
      const folder = await waitFor('the run to open its data folder', () => openRunFolder(child.pid!), { timeoutMs: 60_000, context: () => stderr.join('') });
      expect(existsSync(folder)).toBe(true);
      child.kill(signal);
      const [exitCode] = await exited;
      expect(exitCode).toBe(code);
      expect(existsSync(folder)).toBe(false);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  });
});
