import 'reflect-metadata';
import { createHash } from 'node:crypto';
import { brotliDecompressSync } from 'node:zlib';
import { Module, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { ASSETS_PATH, loadConsoleAssets, type ConsoleAssets } from './console-assets.js';
import { ConsoleController } from './console.controller.js';
import { parseProvenance } from './feed-preview.service.js';

@Module({ controllers: [ConsoleController] })
class ConsoleOnlyModule {}

describe('console assets', () => {
  let loaded: ConsoleAssets;
  let app: INestApplication;
  let url: string;

  beforeAll(async () => {
    loaded = await loadConsoleAssets();
    app = await NestFactory.create(ConsoleOnlyModule, new FastifyAdapter(), { logger: false });
    await app.listen(0, '127.0.0.1');
    url = await app.getUrl();
  });

  afterAll(async () => {
    await app?.close();
  });

  const importMapOf = (page: string) => {
    const match = /<script type="importmap">([^<]*)<\/script>/.exec(page);
    if (!match) throw new Error('the page has no import map');
    return { text: match[1]!, imports: (JSON.parse(match[1]!) as { imports: Record<string, string> }).imports };
  };

  it('loads its modules and stylesheets from this origin by content hash, with no inline code but the import map, allowed by its hash', () => {
    const { body, contentSecurityPolicy } = loaded.page;
    const importMap = importMapOf(body);
    const hash = createHash('sha256').update(importMap.text).digest('base64');
    expect(contentSecurityPolicy).toContain(`script-src 'self' 'sha256-${hash}';`);
    expect(contentSecurityPolicy).not.toMatch(/unsafe-inline|unsafe-eval/);
    expect(contentSecurityPolicy).toContain("style-src 'self';");

    // Every other script is a module loaded from the assets route; no style or handler attributes.
    const scripts = [...body.matchAll(/<script([^>]*)>/g)].map((match) => match[1]!.trim());
    expect(scripts.filter((attributes) => attributes !== 'type="importmap"')).toEqual([expect.stringMatching(/^type="module" src="\/console\/assets\/main\.[\w-]{16}\.js"$/)]);
    expect(body).not.toMatch(/\sstyle=|\son[a-z]+=/);
    // The icon is empty (`data:,`), so that the browser asks for no /favicon.ico.
    const linked = [...body.matchAll(/(?:href|src)="([^"]+)"/g)].map((match) => match[1]!).filter((link) => link !== 'data:,');
    expect(linked.every((link) => link.startsWith(ASSETS_PATH))).toBe(true);
    const served = [...linked, ...Object.values(importMap.imports)].map((link) => link.replace(ASSETS_PATH, ''));
    expect(served.every((name) => loaded.assets.has(name))).toBe(true);
    expect(linked.filter((link) => link.endsWith('.css')).map((link) => link.replace(/\.[\w-]{16}\.css$/, ''))).toEqual([
      `${ASSETS_PATH}uPlot.min`,
      `${ASSETS_PATH}console`,
    ]);
  });

  it('maps every import of every module it serves to a served module', () => {
    const { imports } = importMapOf(loaded.page.body);
    const modules = [...loaded.assets.values()].filter((found) => found.name.endsWith('.js'));
    expect(modules.length).toBeGreaterThan(10);
    let found = 0;
    for (const module of modules) {
      // Static imports and re-exports, as statements (not words in comments): `import{x}from"preact"`, `import './a.js'`.
      for (const [, specifier] of module.body.toString('utf8').matchAll(/(?:^|;)\s*(?:import|export)\s*(?:[\w$*{},\s]+?\s*from\s*)?["']([^"']+)["']/gm)) {
        const key = specifier!.startsWith('./') ? `${ASSETS_PATH}${specifier!.slice(2)}` : specifier!;
        expect({ module: module.name, specifier, to: imports[key] }).toEqual({ module: module.name, specifier, to: expect.stringMatching(/^\/console\/assets\//) });
        expect(loaded.assets.has(imports[key]!.replace(ASSETS_PATH, ''))).toBe(true);
        found += 1;
      }
    }
    expect(found).toBeGreaterThan(modules.length);
    // The libraries are their ES module builds, and only those.
    expect(Object.keys(imports).filter((key) => !key.startsWith('/'))).toEqual(['preact', 'preact/hooks', 'htm', 'uplot']);
    expect([...loaded.assets.keys()].some((name) => name.endsWith('.map') || name.startsWith('api.types.'))).toBe(false);
  });

  it('serves the page revalidated and the assets immutable, compressed when the browser accepts it, 304 when unchanged', async () => {
    const page = await fetch(`${url}/console`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toBe(loaded.page.contentSecurityPolicy);
    expect(page.headers.get('cache-control')).toBe('no-cache');
    expect(await page.text()).toBe(loaded.page.body);
    expect((await fetch(`${url}/console`, { headers: { 'if-none-match': page.headers.get('etag')! } })).status).toBe(304);

    const uplot = [...loaded.assets.values()].find((found) => found.name.startsWith('uPlot.esm.'))!;
    const plain = await fetch(`${url}/console/assets/${uplot.name}`, { headers: { 'accept-encoding': 'identity' } });
    expect(plain.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(plain.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(Buffer.from(await plain.arrayBuffer()).equals(uplot.body)).toBe(true);
    // fetch decompresses what it receives: the compressed bytes are checked on the asset itself.
    expect(uplot.brotli.length).toBeLessThan(uplot.body.length / 3);
    expect(brotliDecompressSync(uplot.brotli).equals(uplot.body)).toBe(true);
    const compressed = await fetch(`${url}/console/assets/${uplot.name}`, { headers: { 'accept-encoding': 'gzip, br' } });
    expect(compressed.headers.get('content-encoding')).toBe('br');
    expect(compressed.headers.get('vary')).toBe('accept-encoding');
    expect(compressed.headers.get('etag')).not.toBe(plain.headers.get('etag'));
    expect((await fetch(`${url}/console/assets/${uplot.name}`, { headers: { 'accept-encoding': 'br', 'if-none-match': compressed.headers.get('etag')! } })).status).toBe(304);

    expect((await fetch(`${url}/console/assets/uPlot.esm.js`)).status).toBe(404);
    expect((await fetch(`${url}/console/assets/package.json`)).status).toBe(404);
  });

  it('reads the provenance feedContext, and nothing that is not one', () => {
    expect(parseProvenance('{"v":1,"b":["alpha","beta"],"d":["gamma"],"+":2}')).toEqual({
      supportedBy: ['alpha', 'beta'],
      divisiveIn: ['gamma'],
      omitted: 2,
      summary: 'bridging in alpha and beta · divisive in gamma',
    });
    expect(parseProvenance('{"v":2}')).toBeNull();
    expect(parseProvenance('not json')).toBeNull();
    expect(parseProvenance(null)).toBeNull();
  });
});
