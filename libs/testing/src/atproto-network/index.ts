export { startAtprotoNetwork, type AtprotoNetwork, type Did, type TestAccount } from './atproto-network.js';
export { connectAtprotoNetwork, type AtprotoNetworkClient, type TestRecordRef } from './atproto-network.client.js';
export { createAppPassword, loginAgent } from './agents.js';
