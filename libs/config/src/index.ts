export * from './app.config.js';
export * from './config.errors.js';
