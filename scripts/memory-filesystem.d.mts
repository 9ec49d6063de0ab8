// Types for scripts/memory-filesystem.mjs (plain ESM, so the TypeScript code can import it).
export declare function memoryFilesystem(minFreeBytes?: number): string | undefined;
