export { createHandleResolution, VerifiedHandleResolver } from './verified-handle.resolver.js';
export { LabelerIdentityError, type LabelerIdentity, LabelerResolver } from './labeler.resolver.js';
