// Types for scripts/chromium.mjs (plain ESM, so the TypeScript tests and benches can import it).

/** Launch flags for headless test runs: no sandbox, no GPU, no background network traffic, fresh profile behaviour. */
export declare const CHROMIUM_ARGS: readonly string[];

/** A Chromium executable already on this machine (`CHROMIUM_PATH`, Debian's paths, the PATH), if any. */
export declare function findChromium(): string | undefined;

/** The path of a Chromium executable; installs Debian's `chromium` with apt-get (as root) when missing. */
export declare function ensureChromium(): Promise<string>;
