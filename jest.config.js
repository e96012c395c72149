/** Unit specs live beside the code; end-to-end specs start the real app and live in test/. */
const transform = {
  '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json', diagnostics: false }],
};
const common = { moduleFileExtensions: ['js', 'json', 'ts'], testEnvironment: 'node', transform };

module.exports = {
  projects: [
    {
      ...common,
      displayName: 'unit',
      rootDir: 'src',
      testRegex: '.*\\.spec\\.ts$',
      setupFiles: ['<rootDir>/../test/support/silence-logs.ts'],
    },
    {
      ...common,
      displayName: 'e2e',
      rootDir: '.',
      roots: ['<rootDir>/test'],
      testRegex: '.*\\.e2e-spec\\.ts$',
      testTimeout: 30000,
    },
  ],
};
