export * from './bus.js';
export * from './topics.js';
export * from './pipeline-event.js';
export * from './feedback-event.js';
export * from './message.codec.js';
