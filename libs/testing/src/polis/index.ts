export * from './csv.js';
export * from './polis-conversation.js';
export * from './polis-interactions.js';
export * from './planted-communities.js';
