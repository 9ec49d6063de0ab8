export { JetstreamSource } from './jetstream.source.js';
