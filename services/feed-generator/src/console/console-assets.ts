import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { brotliCompress, constants as zlib } from 'node:zlib';

/** Where the console's assets are served from: `/console/assets/<name>.<content hash>.<ext>`. */
export const ASSETS_PATH = '/console/assets/';
/** Where the page lists its stylesheets and scripts (`web/console.html`). */
const ASSETS_MARKER = '<!-- console assets -->';

/** A page made of the console's modules: its entry module and its HTML file in `web/`. */
export interface PageEntry {
  entry: string;
  html: string;
}

/** The console itself. */
const CONSOLE_PAGE: PageEntry = { entry: 'main.js', html: 'console.html' };
/** The public report of a conversation (`/conversations/<id>`). */
export const REPORT_PAGE: PageEntry = { entry: 'report-main.js', html: 'public.html' };
/** The public editions of a digest (`/digests/<name>`). */
export const DIGEST_PAGE: PageEntry = { entry: 'digest-main.js', html: 'public.html' };

/**
 * The browser libraries the console imports, by the bare name its modules use, and their ES module
 * builds in node_modules: the only files of node_modules that are served.
 */
const LIBRARY_MODULES: Record<string, string> = {
  preact: 'preact/dist/preact.mjs',
  'preact/hooks': 'preact/hooks/dist/hooks.mjs',
  htm: 'htm/dist/htm.module.js',
  uplot: 'uplot/dist/uPlot.esm.js',
};
const LIBRARY_STYLESHEETS = ['uplot/dist/uPlot.min.css'];

export interface ConsoleAsset {
  /** The file name served, with its content hash: `main.1a2b3c4d5e6f7a8b.js`. */
  name: string;
  type: string;
  body: Buffer;
  /** The same body compressed with brotli, for browsers that accept it. */
  brotli: Buffer;
  etag: string;
}

export interface ConsolePage {
  body: string;
  etag: string;
  /** The page's Content-Security-Policy: its one inline script, the import map, is allowed by hash. */
  contentSecurityPolicy: string;
}

export interface ConsoleAssets {
  page: ConsolePage;
  /** By served name. */
  assets: ReadonlyMap<string, ConsoleAsset>;
}

export class ConsoleNotBuiltError extends Error {
  override readonly name = 'ConsoleNotBuiltError';
  constructor(readonly directory: string) {
    super(`the console's browser files are not built (nothing in ${directory}): run npm run build`);
  }
}

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../../../..');

/**
 * The build's output for `web/`: the compiled modules, the stylesheet and the page.
 *
 * @NOTE Run from its sources (Jest), this file reads the browser files from the build of the same
 * folder under dist/, as the test helpers read dist/ entry points: the browser needs JavaScript.
 * `npm test` builds before it runs; after editing web/ by hand, `npm run build`.
 */
export const consoleWebDirectory = here.split(path.sep).includes('dist') ? path.join(here, 'web') : path.join(root, 'dist', path.relative(root, here), 'web');

const hashOf = (body: Buffer | string) => createHash('sha256').update(body).digest('base64url').slice(0, 16);
const compress = promisify(brotliCompress);

/** A module of type declarations only (`api.types.ts`): compiled to nothing, imported by nobody at run time. */
const typesOnly = (code: string) => /^export \{\s*\};?$/.test(code.replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '').trim());

/** Without `//# sourceMappingURL=…`: the maps are not served. */
const withoutSourceMap = (code: string) => code.replace(/\n\/\/# sourceMappingURL=\S+\s*$/, '\n');

async function asset(file: string, body: Buffer, type: string): Promise<ConsoleAsset> {
  const hash = hashOf(body);
  const extension = path.extname(file);
  // Quality 5: within a few percent of the best for these files, in a fraction of the time.
  const brotli = await compress(body, { params: { [zlib.BROTLI_PARAM_QUALITY]: 5, [zlib.BROTLI_PARAM_SIZE_HINT]: body.length } });
  return { name: `${path.basename(file, extension)}.${hash}${extension}`, type, body, brotli, etag: `"${hash}"` };
}

const SCRIPT = 'text/javascript; charset=utf-8';
const STYLESHEET = 'text/css; charset=utf-8';

/** A file of node_modules, found where Node would load its package from. */
function libraryFile(file: string): string {
  const require = createRequire(import.meta.url);
  const packageName = file.split('/')[0]!;
  for (const folder of require.resolve.paths(packageName) ?? []) {
    const candidate = path.join(folder, file);
    if (existsSync(candidate)) return candidate;
  }
  throw new Error(`the console needs ${file}, which is not installed`);
}

/**
 * Reads the console's files once: the browser modules the build emitted for `web/*.ts`, the
 * libraries they import, the stylesheets, and the page, which names every one of them by content
 * hash through an import map.
 */
export async function loadConsoleAssets(directory = consoleWebDirectory, pageEntry: PageEntry = CONSOLE_PAGE): Promise<ConsoleAssets> {
  const files = existsSync(directory) ? await readdir(directory) : [];
  if (!files.includes(pageEntry.entry) || !files.includes(pageEntry.html)) throw new ConsoleNotBuiltError(directory);

  const ownModules = (
    await Promise.all(
      files
        .filter((file) => file.endsWith('.js'))
        .sort()
        .map(async (file) => ({ file, code: withoutSourceMap(await readFile(path.join(directory, file), 'utf8')) })),
    )
  ).filter(({ code }) => !typesOnly(code));
  const ownAssets = await Promise.all(ownModules.map(async ({ file, code }) => ({ file, asset: await asset(file, Buffer.from(code), SCRIPT) })));
  const libraries = await Promise.all(
    Object.entries(LIBRARY_MODULES).map(async ([specifier, file]) => ({
      specifier,
      asset: await asset(file, Buffer.from(withoutSourceMap(await readFile(libraryFile(file), 'utf8'))), SCRIPT),
    })),
  );
  const stylesheets = await Promise.all([
    ...LIBRARY_STYLESHEETS.map(async (file) => asset(file, await readFile(libraryFile(file)), STYLESHEET)),
    ...files.filter((file) => file.endsWith('.css')).sort().map(async (file) => asset(file, await readFile(path.join(directory, file)), STYLESHEET)),
  ]);

  const assets = new Map<string, ConsoleAsset>();
  for (const found of [...ownAssets.map((entry) => entry.asset), ...libraries.map((entry) => entry.asset), ...stylesheets]) {
    if (assets.has(found.name)) throw new Error(`two console assets are named ${found.name}`);
    assets.set(found.name, found);
  }

  // @NOTE Every module is served under its content hash and cached for good. The console's own
  // modules import each other by plain relative names (`./api.js`), which the import map points at
  // the hashed files, as it points the libraries' bare names (`preact`) at theirs.
  const url = (served: ConsoleAsset) => `${ASSETS_PATH}${served.name}`;
  const importMap = JSON.stringify({
    imports: Object.fromEntries([
      ...libraries.map(({ specifier, asset: served }) => [specifier, url(served)]),
      ...ownAssets.map(({ file, asset: served }) => [`${ASSETS_PATH}${file}`, url(served)]),
    ]),
  });
  const entry = ownAssets.find((module) => module.file === pageEntry.entry)!.asset;
  const head = [
    `<script type="importmap">${importMap}</script>`,
    ...stylesheets.map((stylesheet) => `<link rel="stylesheet" href="${url(stylesheet)}">`),
    // Fetched at once rather than one import after another.
    ...[...libraries.map((library) => library.asset), ...ownAssets.map((module) => module.asset)]
      .filter((module) => module !== entry)
      .map((module) => `<link rel="modulepreload" href="${url(module)}">`),
    `<script type="module" src="${url(entry)}"></script>`,
  ].join('\n');

  const html = await readFile(path.join(directory, pageEntry.html), 'utf8');
  if (!html.includes(ASSETS_MARKER)) throw new Error(`${pageEntry.html} has no ${ASSETS_MARKER} line`);
  const body = html.replace(ASSETS_MARKER, head);
  const importMapHash = createHash('sha256').update(importMap).digest('base64');
  return {
    page: {
      body,
      etag: `"${hashOf(body)}"`,
      contentSecurityPolicy: [
        "default-src 'none'",
        `script-src 'self' 'sha256-${importMapHash}'`,
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "form-action 'self'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
      ].join('; '),
    },
    assets,
  };
}
