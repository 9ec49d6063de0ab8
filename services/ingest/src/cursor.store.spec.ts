import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { CursorFileError, CursorStore } from './cursor.store.js';

const nowUs = 1_763_000_000_000_000;

describe('the ingest cursor file', () => {
  let dir: string;
  let file: string;

  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'cg-cursor-store-'));
    file = path.join(dir, 'state', 'ingest-cursor.json');
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('holds no cursor before the first save, then the last one saved, and nothing else beside it', async () => {
    const store = new CursorStore(file);
    expect(await store.load(nowUs)).toBeUndefined();
    await store.save(nowUs - 2_000_000);
    await store.save(nowUs - 1_000_000);
    expect(await store.load(nowUs)).toBe(nowUs - 1_000_000);
    expect(await readdir(path.dirname(file))).toEqual(['ingest-cursor.json']);
  });

  it.each([
    ['a truncated file', '{"cursorUs":17630000', 'not JSON with a cursorUs'],
    ['an empty file', '', 'not JSON with a cursorUs'],
    ['a file of null', 'null', 'not JSON with a cursorUs'],
    ['a file without a cursor', '{"savedAt":"2025-11-13T02:13:20.000Z"}', 'not JSON with a cursorUs'],
    ['a text cursor', '{"cursorUs":"1763000000000000"}', 'cursorUs "1763000000000000" is not a Jetstream time up to now'],
    ['a fractional cursor', '{"cursorUs":1.5}', 'cursorUs 1.5 is not a Jetstream time up to now'],
    ['a cursor a day ahead of the clock', `{"cursorUs":${nowUs + 86_400_000_000}}`, `cursorUs ${nowUs + 86_400_000_000} is not a Jetstream time up to now`],
    ['a cursor in the year 2255', '{"cursorUs":9000000000000000}', 'cursorUs 9000000000000000 is not a Jetstream time up to now'],
  ])('refuses %s, naming the file and saying what to do, and leaves it as it is', async (_label, text, found) => {
    const store = new CursorStore(file);
    await store.save(nowUs);
    await writeFile(file, text);
    const loading = store.load(nowUs);
    await expect(loading).rejects.toThrow(CursorFileError);
    await expect(loading).rejects.toThrow(`the ingest cursor file ${file} is damaged (${found}). Write {"cursorUs": <unix microseconds>} into it`);
    await expect(loading).rejects.toThrow('or delete it to start from the live stream');
    expect(await readFile(file, 'utf8')).toBe(text);
  });
});
