// Types for scripts/free-port.mjs (plain ESM, so the TypeScript tests can import it).
export declare function freePort(): Promise<number>;
