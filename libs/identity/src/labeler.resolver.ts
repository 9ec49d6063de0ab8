import { getServiceEndpoint, getVerificationMaterial } from '@atproto/common';
import { DidResolver, getDidKeyFromMultibase } from '@atproto/identity';

/** Where a labeler serves its labels and the key it signs them with, from its DID document. */
export interface LabelerIdentity {
  endpoint: string;
  /** The `#atproto_label` key as a `did:key`. */
  key: string;
}

export class LabelerIdentityError extends Error {
  override name = 'LabelerIdentityError';
}

/**
 * Resolves labeler DIDs: the `#atproto_labeler` service and the `#atproto_label` key. `refresh`
 * skips every cache, for a signature that did not verify against the key known so far.
 */
export class LabelerResolver {
  private readonly dids: DidResolver;

  constructor(options: { plcUrl: string; timeoutMs: number; allowInsecureFetch: boolean }) {
    this.dids = new DidResolver({ plcUrl: options.plcUrl, timeout: options.timeoutMs, ...(options.allowInsecureFetch && { fetch: globalThis.fetch }) });
  }

  async resolve(did: string, refresh = false): Promise<LabelerIdentity> {
    const doc = await this.dids.resolve(did, refresh);
    if (!doc) throw new LabelerIdentityError(`${did} does not resolve`);
    const endpoint = getServiceEndpoint(doc, { id: '#atproto_labeler', type: 'AtprotoLabeler' });
    const material = getVerificationMaterial(doc, 'atproto_label');
    const key = material && getDidKeyFromMultibase(material);
    if (!endpoint || !key) throw new LabelerIdentityError(`${did} is not a labeler: its DID document lacks #atproto_labeler or #atproto_label`);
    return { endpoint, key };
  }
}
