import type { Config } from 'jest';

// Tests run against the sources: `@grpc-resilience/<name>` maps to `packages/<name>/src`, so no
// build is needed first. ts-jest only transpiles; `tsc -b` (part of `npm test`) type-checks tests.
const config: Config = {
  testEnvironment: 'node',
  roots: ['<rootDir>/packages'],
  testMatch: ['**/src/**/*.test.ts'],
  moduleNameMapper: { '^@grpc-resilience/([a-z-]+)$': '<rootDir>/packages/$1/src' },
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.base.json' }] },
  testTimeout: 20_000,
  // One worker: tests assert deadlines to within 50 ms, and a second worker with its own
  // in-process servers on a 2-core machine made timers late by more than that.
  maxWorkers: 1,
};

export default config;
