/**
 * What the Polis evaluation costs: the seven conversations of test/fixtures/polis through the real
 * embedded pipeline (every vote; likes only), as test/e2e/polis-eval.spec.ts runs them.
 *
 *     npm run bench:polis-eval
 *
 * Prints each conversation's CPU time (the whole process, chDB's threads included) and wall time,
 * and the CPU of the seven with its goal: ≤ 76 s. The replay with one Jetstream push and one
 * insert per post, 60-second tokens and chDB's data on disk took 149 s (the sum of seven
 * `npm run eval` processes, load average 10 on 2 cores); with its waits cut, one token per account
 * and chDB on a memory filesystem 82.4 s (load average 3.4 on 2 cores); with the accounts' keys
 * and tokens signed in libsecp256k1 and commits pushed only when feedback is about one of them
 * 74.4 s (load average 3.8, measured just before the other).
 */
import 'reflect-metadata';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { POLIS_FIXTURE_CONVERSATIONS } from '../eval/polis-dataset.js';
import { evaluatePolis } from '../eval/polis-eval.js';
import { atMost, loadAverage, reportFigures, type Figure } from './bench-report.js';

const GOAL_CPU_S = 76;
const data = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../test/fixtures/polis');

const figures: Figure[] = [];
let cpuS = 0;
let wallS = 0;
for (const conversation of POLIS_FIXTURE_CONVERSATIONS) {
  const result = await evaluatePolis(path.join(data, conversation));
  cpuS += result.cpuMs / 1000;
  wallS += result.elapsedMs / 1000;
  figures.push({ figure: `${conversation}: CPU`, measured: result.cpuMs / 1000, unit: 's', note: `wall ${(result.elapsedMs / 1000).toFixed(1)} s` });
}
figures.push({ figure: 'the seven conversations: CPU', measured: cpuS, unit: 's', goal: atMost(GOAL_CPU_S), note: `wall ${wallS.toFixed(0)} s; ${loadAverage()}` });
reportFigures('polis-eval', figures);
