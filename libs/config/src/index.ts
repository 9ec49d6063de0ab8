export * from './app.config.js';
export * from './config.errors.js';
export * from './kafka-security.config.js';
