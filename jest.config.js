/**
 * Unit specs live beside the code; end-to-end specs start the real app and live in test/. The
 * slow suites are a project of their own, left out of `npm test` (`jest --selectProjects unit
 * e2e`) and run by `npm run test:slow`. The bench harness smoke run (test/*.bench-spec.ts) has
 * its own config: jest.bench.config.js.
 */
const transform = {
  '^.+\\.ts$': ['ts-jest', { tsconfig: { isolatedModules: true }, diagnostics: false }],
};
const common = { moduleFileExtensions: ['js', 'json', 'ts'], testEnvironment: 'node', transform };

/**
 * Suites of more than 15 s whose contract other suites check too: one million publications
 * through the in-memory broker (memory stays bounded), ten thousand fuzzed frames, an instance of
 * 100,000 members (resync, expiry, stop, presence) on a real Redis, and the big fault and memory
 * runs (Redis stalled, killed and flushed under two instances; servers spawned on a small heap).
 */
const slowSuites = [
  '<rootDir>/src/rooms/in-memory-room-broker.memory.spec.ts',
  '<rootDir>/test/fuzz.e2e-spec.ts',
  '<rootDir>/test/membership-scale.e2e-spec.ts',
  '<rootDir>/test/redis-faults.e2e-spec.ts',
  '<rootDir>/test/faults.e2e-spec.ts',
  '<rootDir>/test/memory.e2e-spec.ts',
];

/**
 * Suites that start a real Redis Cluster of their own (3 masters, with replicas where a master is
 * killed): `npm run test:cluster`. Suites that only add a cluster case to a one-Redis file stay
 * in `npm test`.
 */
const clusterSuites = [
  '<rootDir>/test/bridge-cluster.e2e-spec.ts',
  '<rootDir>/test/redis-cluster-contract.e2e-spec.ts',
  '<rootDir>/test/redis-cluster-pubsub.e2e-spec.ts',
  '<rootDir>/test/support/redis-cluster.spec.ts',
  '<rootDir>/bench/lib/shard-stats.spec.ts',
];

/** Builds what the e2e specs start as processes (dist-spawn/) when it is older than a source. */
const globalSetup = '<rootDir>/test/support/spawned-build.ts';

module.exports = {
  // A global option in Jest 29 (ignored inside projects); e2e specs start servers and processes.
  testTimeout: 30000,
  // Every suite runs apart from the others: its own servers on port 0, its own redis-server, its
  // own processes. Those that stall a process (SIGSTOP of a redis-server, a blocked event loop)
  // or measure memory do it to their own, so two workers, on the two cores of CI, share nothing.
  maxWorkers: 2,
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
      testPathIgnorePatterns: ['/node_modules/', ...slowSuites, ...clusterSuites],
      setupFiles: ['<rootDir>/test/support/silence-logs.ts'],
    },
    {
      ...common,
      displayName: 'e2e',
      rootDir: '.',
      roots: ['<rootDir>/test'],
      testRegex: '.*\\.e2e-spec\\.ts$',
      testPathIgnorePatterns: ['/node_modules/', ...slowSuites, ...clusterSuites],
      globalSetup,
    },
    {
      ...common,
      displayName: 'slow',
      rootDir: '.',
      testMatch: slowSuites,
      setupFiles: ['<rootDir>/test/support/silence-logs.ts'],
      globalSetup,
    },
    {
      ...common,
      displayName: 'cluster',
      rootDir: '.',
      testMatch: clusterSuites,
      setupFiles: ['<rootDir>/test/support/silence-logs.ts'],
      globalSetup,
    },
  ],
};
