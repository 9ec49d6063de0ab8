export * from './in-process.bus.js';
export * from './prefixed.bus.js';
