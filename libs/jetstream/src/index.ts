export * from './jetstream.source.js';
