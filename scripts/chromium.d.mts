// Types for scripts/chromium.mjs (plain ESM, so the TypeScript tests and benches can import it).

/** Launch flags for headless test runs: no sandbox, no GPU, no background network traffic, fresh profile behaviour. */
export declare const CHROMIUM_ARGS: readonly string[];

/** A Chromium executable that needs no unpacking (`CHROMIUM_PATH`, or the packaged one unpacked before), if any. */
export declare function findChromium(): string | undefined;

/** The path of a Chromium executable: `CHROMIUM_PATH`, or the one `@sparticuz/chromium` carries, unpacked on first use. */
export declare function ensureChromium(): Promise<string>;
