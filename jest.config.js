/** @type {import('jest').Config} */
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  // 'fedgate' is the package itself (example-app imports it as a user would): test the sources.
  moduleNameMapper: { '^fedgate$': '<rootDir>/index.ts', '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json', diagnostics: false }],
  },
  testTimeout: 30000,
  maxWorkers: 2,
  globalSetup: '<rootDir>/test/secret-scan.setup.js',
  globalTeardown: '<rootDir>/test/secret-scan.teardown.js',
};
