/** Unit specs live beside the code; end-to-end specs start the real app and live in test/. */
const transform = {
  '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json', diagnostics: false }],
};
const common = { moduleFileExtensions: ['js', 'json', 'ts'], testEnvironment: 'node', transform };

module.exports = {
  // A global option in Jest 29 (ignored inside projects); e2e specs start servers and processes.
  testTimeout: 30000,
  projects: [
    {
      ...common,
      displayName: 'unit',
      rootDir: '.',
      // Unit specs beside the code, and the contract suites run against the in-memory ports.
      roots: ['<rootDir>/src', '<rootDir>/test/contracts'],
      testRegex: '.*\\.spec\\.ts$',
      setupFiles: ['<rootDir>/test/support/silence-logs.ts'],
    },
    {
      ...common,
      displayName: 'e2e',
      rootDir: '.',
      roots: ['<rootDir>/test'],
      testRegex: '.*\\.e2e-spec\\.ts$',
    },
  ],
};
