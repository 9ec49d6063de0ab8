export * from './clickhouse.client.js';
export * from './migrations.js';
export * from './event.repository.js';
export * from './post.repository.js';
export * from './community.repository.js';
export * from './feedback.repository.js';
export * from './score.repository.js';
export * from './did-set.store.js';
