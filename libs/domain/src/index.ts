export * from './nsid.js';
export * from './at-uri.js';
export * from './jetstream-mapping.js';
export * from './feed-cursor.js';
