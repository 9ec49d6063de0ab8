export { createHandleResolution, VerifiedHandleResolver } from './verified-handle.resolver.js';
export { LabelerIdentityError, type LabelerIdentity, LabelerResolver } from './labeler.resolver.js';
export { type Libsecp256k1, loadLibsecp256k1, secp256k1DidKey, secp256k1Multikey } from './libsecp256k1.js';
