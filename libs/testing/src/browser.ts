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
export async function launchBrowser(dir: string, viewport = { width: 1280, height: 900 }): Promise<BrowserContext> {
  const [{ chromium }, { CHROMIUM_ARGS, ensureChromium }] = await Promise.all([import('playwright-core'), import('#scripts/chromium.mjs')]);
  return chromium.launchPersistentContext(await mkdtemp(path.join(dir, 'chromium-profile-')), {
    executablePath: await ensureChromium(),
    // A language tag of its own: the packaged Chromium reads `en-US@posix` from a C locale, which Intl refuses.
    locale: 'en-US',
    headless: true,
    args: [...CHROMIUM_ARGS],
    viewport,
  });
}
