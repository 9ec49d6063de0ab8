// Jest runs our TypeScript as native ES modules (the @atproto and NestJS packages are ESM-only).
const swc = {
  jsc: {
    parser: { syntax: 'typescript', decorators: true },
    transform: { legacyDecorator: true, decoratorMetadata: true, useDefineForClassFields: false },
    target: 'es2024',
    keepClassNames: true,
  },
  module: { type: 'es6' },
  sourceMaps: 'inline',
};

const base = {
  extensionsToTreatAsEsm: ['.ts'],
  transform: { '^.+\\.ts$': ['@swc/jest', swc] },
  moduleNameMapper: {
    '^#lib/(.*)$': '<rootDir>/libs/$1/src/index.ts',
    '^#services/(.*)$': '<rootDir>/services/$1/src/index.ts',
    '^#scripts/(.*)$': '<rootDir>/scripts/$1',
    '^(\\.{1,2}/.*)\\.js$': '$1',
  },
  testEnvironment: 'node',
  // Out of the temporary folder, which the test command points at a fresh one each run.
  cacheDirectory: '<rootDir>/.cache/jest',
};

export default {
  // Real brokers, servers and replays take longer than unit tests.
  testTimeout: 300_000,
  // Longest files first, by the times in test/durations.json.
  testSequencer: '<rootDir>/scripts/jest-sequencer.mjs',
  projects: [
    { ...base, displayName: 'unit', testMatch: ['<rootDir>/libs/**/*.spec.ts', '<rootDir>/services/**/*.spec.ts', '<rootDir>/eval/**/*.spec.ts'] },
    { ...base, displayName: 'integration', testMatch: ['<rootDir>/test/integration/**/*.spec.ts'] },
    { ...base, displayName: 'e2e', testMatch: ['<rootDir>/test/e2e/**/*.spec.ts'] },
  ],
};
