export { runInTurns, runSteps, type Steps, StreamTurns, Turns } from './steps.js';
