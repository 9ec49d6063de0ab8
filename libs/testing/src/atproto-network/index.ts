export * from './atproto-network.js';
export * from './firehose-to-jetstream.js';
export * from './agents.js';
