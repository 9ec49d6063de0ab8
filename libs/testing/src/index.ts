export * from './jsonl.js';
export * from './synthetic-events.js';
export * from './jetstream-replay.server.js';
export * from './polis/index.js';
export * from './chdb-http.server.js';
export * from './app-process.js';
export * from './wait-for.js';
export * from './test-app.env.js';
