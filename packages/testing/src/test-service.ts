import * as fs from 'node:fs';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

/** Full name of the shared test service. */
export const TEST_SERVICE_NAME = 'grpc_resilience.test.v1.TestService';

/** Method paths of the test service, as grpc-js and the `methods` config key them. */
export const TEST_METHODS = Object.freeze({
  getItem: `/${TEST_SERVICE_NAME}/GetItem`,
  putItem: `/${TEST_SERVICE_NAME}/PutItem`,
  charge: `/${TEST_SERVICE_NAME}/Charge`,
  listItems: `/${TEST_SERVICE_NAME}/ListItems`,
  uploadItems: `/${TEST_SERVICE_NAME}/UploadItems`,
  syncItems: `/${TEST_SERVICE_NAME}/SyncItems`,
});

/** The method names of the test service, as on a generated client. */
export type TestMethodName =
  'GetItem' | 'PutItem' | 'Charge' | 'ListItems' | 'UploadItems' | 'SyncItems';

/**
 * The client class generated from the test proto by @grpc/proto-loader. Methods are typed loosely:
 * the helpers in `calls.ts` give tests a typed, promise-shaped way to call them.
 */
export type TestServiceClient = grpc.Client & {
  [method in TestMethodName]: (...args: unknown[]) => grpc.Call;
};

export type TestServiceClientConstructor = (new (
  address: string,
  credentials: grpc.ChannelCredentials,
  options?: grpc.ClientOptions,
) => TestServiceClient) & { service: grpc.ServiceDefinition; serviceName: string };

/**
 * Path of the test proto, `proto/test_service.proto` in this package: the one copy, shipped in the
 * tarball (`files`), one level above both `src/` (tests in the workspace) and `dist/` (installed).
 * Nothing is read at import time: {@link loadTestPackage} reads it on first use.
 */
export const TEST_PROTO_PATH = path.resolve(__dirname, '../proto/test_service.proto');

let cached: grpc.GrpcObject | undefined;

/**
 * Loads the test proto on first use and caches it (proto-loader's definitions keep
 * `idempotency_level`). Throws if the proto is missing, naming where it looked.
 */
export function loadTestPackage(): grpc.GrpcObject {
  if (cached) return cached;
  if (!fs.existsSync(TEST_PROTO_PATH)) {
    throw new Error(`test_service.proto not found at ${TEST_PROTO_PATH}`);
  }
  cached = grpc.loadPackageDefinition(
    protoLoader.loadSync(TEST_PROTO_PATH, { keepCase: false, defaults: true, longs: String }),
  );
  return cached;
}

/** The generated client constructor of the test service. */
export function testServiceClient(): TestServiceClientConstructor {
  const pkg = loadTestPackage() as unknown as {
    grpc_resilience: { test: { v1: { TestService: TestServiceClientConstructor } } };
  };
  return pkg.grpc_resilience.test.v1.TestService;
}

/** The service definition of the test service, to add to a grpc-js server. */
export function testServiceDefinition(): grpc.ServiceDefinition {
  return testServiceClient().service;
}
