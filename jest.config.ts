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
  // Two cores: one worker leaves the other for the servers the tests start in-process.
  maxWorkers: 2,
};

export default config;
