/**
 * Unit specs live beside the code; end-to-end specs start the real app and live in test/. The
 * bench harness smoke run (test/*.bench-spec.ts) has its own config: jest.bench.config.js.
 */
const transform = {
  '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json', diagnostics: false }],
};
const common = { moduleFileExtensions: ['js', 'json', 'ts'], testEnvironment: 'node', transform };

module.exports = {
  // A global option in Jest 29 (ignored inside projects); e2e specs start servers and processes.
  testTimeout: 30000,
  // Jest hides the console of skipped suites run in workers: this one speaks in the summary.
  reporters: ['default', '<rootDir>/test/support/redis-skip-reporter.js'],
  projects: [
    {
      ...common,
      displayName: 'unit',
      rootDir: '.',
      // Unit specs beside the code (src/, scripts/, bench/, test/support/), and the contract
      // suites run against the in-memory ports.
      roots: [
        '<rootDir>/src',
        '<rootDir>/scripts',
        '<rootDir>/bench',
        '<rootDir>/test/contracts',
        '<rootDir>/test/support',
      ],
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
