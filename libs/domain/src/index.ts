export * from './nsid.js';
export * from './at-uri.js';
export * from './jetstream-mapping.js';
// @NOTE Scaffold placeholder still imported by services/feed-generator; remove it together with that import.
export const hello = (n: string): string => `hi ${n}`;
