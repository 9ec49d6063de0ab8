import { Controller, Get, Inject, NotFoundException } from '@nestjs/common';
import type { AppConfig } from '#lib/config';
import { APP_CONFIG } from '#lib/platform';

export interface DidDocument {
  '@context': string[];
  id: string;
  service: { id: string; type: string; serviceEndpoint: string }[];
}

/** `/.well-known/did.json` for `did:web:<hostname>`: how the AppView finds our endpoint. */
@Controller()
export class DidDocumentController {
  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  @Get('.well-known/did.json')
  didDocument(): DidDocument {
    const { serviceDid, hostname } = this.config.feedGenerator;
    // A did:plc is resolved through the PLC directory, not here.
    if (serviceDid !== `did:web:${encodeURIComponent(hostname)}`) throw new NotFoundException('no did:web document is served here');
    const scheme = /^(localhost|127\.0\.0\.1)(%3A\d+)?$/.test(encodeURIComponent(hostname)) ? 'http' : 'https';
    return {
      '@context': ['https://www.w3.org/ns/did/v1'],
      id: serviceDid,
      service: [{ id: '#bsky_fg', type: 'BskyFeedGenerator', serviceEndpoint: `${scheme}://${hostname}` }],
    };
  }
}
