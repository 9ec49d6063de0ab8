export { runInTurns, runSteps, type Steps, StreamTurns, Turns, TURN_BUDGET_MS } from './steps.js';
