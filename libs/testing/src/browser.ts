import { mkdtemp, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import type Axe from 'axe-core';
import type { BrowserContext, Page } from 'playwright-core';

/**
 * Headless Chromium (the packaged one, or `CHROMIUM_PATH`) with a profile of its own under `dir`,
 * for the browser tests.
 *
 * @NOTE Playwright and the Chromium package load on first use: everything else that imports the
 * test helpers (the demo among them) does without them.
 */
export async function launchBrowser(dir: string, options: { viewport?: { width: number; height: number }; locale?: string } = {}): Promise<BrowserContext> {
  const { viewport = { width: 1280, height: 900 }, locale = 'en-US' } = options;
  const [{ chromium }, { CHROMIUM_ARGS, ensureChromium }] = await Promise.all([import('playwright-core'), import('#scripts/chromium.mjs')]);
  return chromium.launchPersistentContext(await mkdtemp(path.join(dir, 'chromium-profile-')), {
    executablePath: await ensureChromium(),
    // The same language whatever the machine's locale (in a C locale the packaged Chromium says
    // `en-US@posix`, a tag Intl refuses: a test that wants it asks for it).
    locale,
    headless: true,
    args: [...CHROMIUM_ARGS],
    viewport,
  });
}

/**
 * What axe-core (Deque's accessibility engine) finds wrong with the page as it stands, against
 * WCAG 2.0–2.2 A and AA and its best practices: one line per rule and element, empty when none.
 *
 * @NOTE The engine is evaluated through the browser's protocol, as a debugger would, so the page's
 * Content-Security-Policy (no inline script) stays as users get it.
 */
export async function accessibilityViolations(page: Page): Promise<string[]> {
  engine ??= readFile(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
  await page.evaluate(await engine);
  const results = await page.evaluate(() => (globalThis as unknown as { axe: typeof Axe }).axe.run({ resultTypes: ['violations'] }));
  return results.violations.flatMap((rule) => rule.nodes.map((node) => `${rule.id} (${rule.impact ?? 'no impact'}): ${rule.help}, at ${node.target.join(' ')}`));
}

let engine: Promise<string> | undefined;
