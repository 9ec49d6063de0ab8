// The order in which Jest hands test files to its workers: the longest first, so that no long file
// starts last and holds up the run alone while the other workers sit idle.
//
// A file's length is the one recorded in test/durations.json (seconds, written by
// `npm test -- --record-durations` after a run that passed), so a fresh clone orders as well as a
// machine that ran the suite before; a file not recorded there falls back on Jest's own cache of
// the last run, and a file known to neither goes first (Jest's rule: the unknown may be long).
// @NOTE The first table came from Jest's report of a whole run on an idle 2-core machine (two
// processes then); the files it reported under 5 s without their time stand at 1 s.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Sequencer from '@jest/test-sequencer';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const durationsFile = path.join(root, 'test', 'durations.json');

/** Recorded seconds by path from the repository root; empty when the file is missing or unreadable. */
export function recordedDurations() {
  try {
    return JSON.parse(readFileSync(durationsFile, 'utf8'));
  } catch {
    return {};
  }
}

export default class LongestFirstSequencer extends Sequencer {
  recorded = recordedDurations();

  /** Milliseconds, as Jest's cache holds them. */
  time(test) {
    const seconds = this.recorded[path.relative(root, test.path).split(path.sep).join('/')];
    return typeof seconds === 'number' ? seconds * 1000 : super.time(test);
  }
}
