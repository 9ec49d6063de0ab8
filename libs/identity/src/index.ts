export { createHandleResolution, VerifiedHandleResolver } from './verified-handle.resolver.js';
