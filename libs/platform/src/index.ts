export * from './tokens.js';
export * from './logger.js';
export * from './platform.module.js';
