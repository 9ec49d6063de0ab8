import { Controller, Get, Headers, NotFoundException, Param, Res, ServiceUnavailableException, type OnModuleInit } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { ConsoleNotBuiltError, loadConsoleAssets, type ConsoleAssets, type ConsolePage, type PageEntry } from './console-assets.js';

/** No third-party anything, and no inline code but the import map: the token in sessionStorage is only as safe as the page. */
const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

/**
 * The web console: one HTML page and its ES modules (the console's own, built from `web/*.ts`,
 * and the libraries they import), read once at start and kept in memory. The page holds no data;
 * everything it shows comes from the admin JSON API with the token the curator signs in with.
 *
 * @NOTE The modules and stylesheets are served under their content hash and cached for good; the
 * page, which names them, is revalidated on every load. A new release changes the names, so a
 * browser never runs an old module, and a repeat visit loads no asset at all.
 */
@Controller('console')
export class ConsoleController implements OnModuleInit {
  private loaded?: ConsoleAssets;
  private notBuilt?: ConsoleNotBuiltError;

  async onModuleInit(): Promise<void> {
    try {
      this.loaded = await loadConsoleAssets();
    } catch (error) {
      // The feeds serve without the console; /console says what is missing.
      if (!(error instanceof ConsoleNotBuiltError)) throw error;
      this.notBuilt = error;
    }
  }

  @Get()
  page(@Headers('if-none-match') ifNoneMatch: string | undefined, @Res() reply: FastifyReply): void {
    sendPage(this.assets().page, ifNoneMatch, reply);
  }

  @Get('assets/:name')
  asset(
    @Param('name') name: string,
    @Headers('if-none-match') ifNoneMatch: string | undefined,
    @Headers('accept-encoding') acceptEncoding: string | undefined,
    @Res() reply: FastifyReply,
  ): void {
    const found = this.assets().assets.get(name);
    if (!found) throw new NotFoundException(`no console asset ${name}`);
    const brotli = /\bbr\b/.test(acceptEncoding ?? '');
    // One entity tag per representation, as a cache that stores both must tell them apart.
    const etag = brotli ? `${found.etag.slice(0, -1)}-br"` : found.etag;
    void reply.headers({ ...SECURITY_HEADERS, etag, vary: 'accept-encoding', 'cache-control': 'public, max-age=31536000, immutable' });
    if (matchesEtag(ifNoneMatch, etag)) {
      void reply.status(304).send();
      return;
    }
    if (brotli) void reply.header('content-encoding', 'br');
    void reply.type(found.type).send(brotli ? found.brotli : found.body);
  }

  private assets(): ConsoleAssets {
    if (this.loaded) return this.loaded;
    throw new ServiceUnavailableException(this.notBuilt?.message ?? 'the console is starting');
  }
}

/** A page of the console's modules, with its security policy, revalidated on every load. */
export function sendPage(page: ConsolePage, ifNoneMatch: string | undefined, reply: FastifyReply, status = 200): void {
  void reply.headers({ ...SECURITY_HEADERS, 'content-security-policy': page.contentSecurityPolicy, 'cache-control': 'no-cache' });
  // A page answering 404 (what it asked for is not there) is never "not modified".
  if (status === 200) {
    void reply.header('etag', page.etag);
    if (matchesEtag(ifNoneMatch, page.etag)) {
      void reply.status(304).send();
      return;
    }
  }
  void reply.status(status).type('text/html; charset=utf-8').send(page.body);
}

/** Whether an If-None-Match header names this entity tag (a list, weak or not). */
export function matchesEtag(ifNoneMatch: string | undefined, etag: string): boolean {
  if (!ifNoneMatch) return false;
  return ifNoneMatch.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag || tag.trim() === '*');
}

/**
 * A public page made of the console's modules (a conversation's report, a digest's editions), read
 * once at start. Its data comes from the public JSON API; the page only renders it.
 */
export class PublicPage {
  private page?: ConsolePage;
  private notBuilt?: ConsoleNotBuiltError;

  constructor(private readonly entry: PageEntry) {}

  async load(): Promise<void> {
    try {
      this.page = (await loadConsoleAssets(undefined, this.entry)).page;
    } catch (error) {
      // The JSON serves without the page; the page says what is missing.
      if (!(error instanceof ConsoleNotBuiltError)) throw error;
      this.notBuilt = error;
    }
  }

  /**
   * The page; for a name nothing has (`missing`), the page with status 404, which says so once it
   * reads its data; before the page is built, `missing` or 503.
   */
  send(reply: FastifyReply, ifNoneMatch: string | undefined, missing?: Error): void {
    if (!this.page) throw missing ?? new ServiceUnavailableException(this.notBuilt?.message ?? 'the page is starting');
    sendPage(this.page, ifNoneMatch, reply, missing ? 404 : 200);
  }
}
