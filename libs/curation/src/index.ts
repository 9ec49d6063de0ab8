export * from './curation.types.js';
export * from './curation.errors.js';
export * from './curation.loader.js';
export * from './curation.store.js';
