/**
 * `npm run test:bench`: the smoke run of the bench harness, kept out of `npm test` because it
 * rebuilds dist/ and runs for a minute. Same setup as the e2e project of jest.config.js.
 */
const base = require('./jest.config');

// The bench runs its own build of the product (bench/lib/product-build.ts), not dist-spawn/.
const { globalSetup: _spawned, ...e2e } = base.projects.find(
  (project) => project.displayName === 'e2e',
);

module.exports = {
  ...e2e,
  displayName: 'bench',
  testRegex: '.*\\.bench-spec\\.ts$',
  testTimeout: base.testTimeout,
};
