import { Controller, Get, Inject, NotFoundException } from '@nestjs/common';
import { Secp256k1Keypair } from '@atproto/crypto';
import type { AppConfig } from '#lib/config';
import { APP_CONFIG } from '#lib/platform';

export interface DidDocument {
  '@context': string[];
  id: string;
  verificationMethod?: { id: string; type: 'Multikey'; controller: string; publicKeyMultibase: string }[];
  service: { id: string; type: string; serviceEndpoint: string }[];
}

/** `/.well-known/did.json` for `did:web:<hostname>`: how the AppView finds our endpoint. */
@Controller()
export class DidDocumentController {
  /** Our labeler's public key as multibase, when the service DID is also the labeler's. */
  private readonly labelKey?: Promise<string>;

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {
    const { did, signingKey } = config.labeler;
    if (did === config.feedGenerator.serviceDid && signingKey !== undefined) {
      this.labelKey = Secp256k1Keypair.import(signingKey).then((key) => key.did().slice('did:key:'.length));
      this.labelKey.catch(() => undefined);
    }
  }

  @Get('.well-known/did.json')
  async didDocument(): Promise<DidDocument> {
    const { serviceDid, hostname } = this.config.feedGenerator;
    // A did:plc is resolved through the PLC directory, not here.
    if (serviceDid !== `did:web:${encodeURIComponent(hostname)}`) throw new NotFoundException('no did:web document is served here');
    const scheme = /^(localhost|127\.0\.0\.1)(%3A\d+)?$/.test(encodeURIComponent(hostname)) ? 'http' : 'https';
    const service = [{ id: '#bsky_fg', type: 'BskyFeedGenerator', serviceEndpoint: `${scheme}://${hostname}` }];
    if (!this.labelKey) return { '@context': ['https://www.w3.org/ns/did/v1'], id: serviceDid, service };
    // A did:web labeler: the #atproto_label key and #atproto_labeler endpoint, as a PLC document would carry them.
    return {
      '@context': ['https://www.w3.org/ns/did/v1', 'https://w3id.org/security/multikey/v1'],
      id: serviceDid,
      verificationMethod: [{ id: `${serviceDid}#atproto_label`, type: 'Multikey', controller: serviceDid, publicKeyMultibase: await this.labelKey }],
      service: [...service, { id: '#atproto_labeler', type: 'AtprotoLabeler', serviceEndpoint: this.config.labeler.endpoint }],
    };
  }
}
