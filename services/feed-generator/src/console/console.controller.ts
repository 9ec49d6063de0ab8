import { createHash } from 'node:crypto';
import { Controller, Get, Headers, NotFoundException, Param, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { consolePage } from './console.page.js';
import { consoleScript } from './console.script.js';
import { consoleStyle } from './console.style.js';

/** No inline script or style, no third-party anything: the token in sessionStorage is only as safe as the page. */
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

interface Asset {
  body: string;
  type: string;
  etag: string;
}

const fingerprint = (body: string) => createHash('sha256').update(body).digest('base64url').slice(0, 16);
const asset = (body: string, type: string): Asset => ({ body, type, etag: `"${fingerprint(body)}"` });

// @NOTE Script and stylesheet are served under their content hash and cached for good; the page,
// which names them, is revalidated on every load. A new release changes the names, so a browser
// never runs an old script, and a repeat visit loads no asset at all.
const assets = new Map<string, Asset>([
  [`console.${fingerprint(consoleScript)}.js`, asset(consoleScript, 'text/javascript; charset=utf-8')],
  [`console.${fingerprint(consoleStyle)}.css`, asset(consoleStyle, 'text/css; charset=utf-8')],
]);
const assetPath = (suffix: string) => `/console/assets/${[...assets.keys()].find((name) => name.endsWith(suffix))!}`;
const page = asset(
  consolePage.replace('/console/console.js', assetPath('.js')).replace('/console/console.css', assetPath('.css')),
  'text/html; charset=utf-8',
);

/**
 * The web console: one HTML page, one script, one stylesheet, all in this process's memory (no
 * build step, no files to deploy). The page holds no data; everything it shows comes from the
 * admin JSON API with the token the curator signs in with.
 */
@Controller('console')
export class ConsoleController {
  @Get()
  page(@Headers('if-none-match') ifNoneMatch: string | undefined, @Res() reply: FastifyReply): void {
    send(reply, page, ifNoneMatch, 'no-cache');
  }

  @Get('assets/:name')
  asset(@Param('name') name: string, @Headers('if-none-match') ifNoneMatch: string | undefined, @Res() reply: FastifyReply): void {
    const found = assets.get(name);
    if (!found) throw new NotFoundException(`no console asset ${name}`);
    send(reply, found, ifNoneMatch, 'public, max-age=31536000, immutable');
  }
}

function send(reply: FastifyReply, { body, type, etag }: Asset, ifNoneMatch: string | undefined, cacheControl: string): void {
  void reply.headers({ ...SECURITY_HEADERS, etag, 'cache-control': cacheControl });
  if (ifNoneMatch === etag) {
    void reply.status(304).send();
    return;
  }
  void reply.type(type).send(body);
}
