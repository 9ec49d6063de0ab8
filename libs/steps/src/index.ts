export { runInTurns, runSteps, type Steps, Turns, TURN_BUDGET_MS } from './steps.js';
