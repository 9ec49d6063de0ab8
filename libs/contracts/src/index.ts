export * from './bus.js';
export * from './topics.js';
export * from './pipeline-event.js';
