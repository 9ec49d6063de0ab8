import { mkdtemp } from 'node:fs/promises';
import path from 'node:path';
import type { BrowserContext } from 'playwright-core';

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
