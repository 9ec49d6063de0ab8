export * from './tokens.js';
export * from './logger.js';
export * from './metrics.js';
export * from './instrumentation.js';
export * from './readiness.js';
export * from './pipeline-history.js';
export * from './progress.js';
export * from './platform.module.js';
