export * from './verified-handle.resolver.js';
