export * from './campaign-source.js';
export * from './store-audit.js';
export * from './fault-campaign.js';
