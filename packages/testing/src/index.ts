export {
  TEST_SERVICE_NAME,
  TEST_METHODS,
  TEST_PROTO_PATH,
  loadTestPackage,
  testServiceClient,
  testServiceDefinition,
  type TestMethodName,
  type TestServiceClient,
  type TestServiceClientConstructor,
} from './test-service';
export { BEHAVIOUR_HEADERS, behaviourMetadata, readBehaviour, type Behaviour } from './behaviour';
export { BackendCounters, type RecordedCall } from './backend-counters';
export {
  startTestBackend,
  shutdownServer,
  type TestBackend,
  type TestBackendOptions,
} from './test-backend';
export {
  startChaosProxy,
  splitAddress,
  type ChaosProxy,
  type ChaosMode,
  type ByteDirection,
} from './chaos-proxy';
export { startSilentServer, type SilentServer } from './silent-server';
export { createLogSink, type LogSink, type LogRecord } from './log-sink';
export {
  createTestClient,
  callUnary,
  callServerStream,
  callClientStream,
  callBidi,
  extraStatusCount,
  type CallOutcome,
  type TestCallOptions,
} from './calls';
export { waitUntil } from './wait-until';
export { loopbackFixture, type LoopbackFixture } from './loopback-fixture';
export {
  startPingEnforcingServer,
  type PingEnforcingServer,
  type PingEnforcingServerOptions,
} from './ping-enforcing-server';
export { scrape, promtool, type PromtoolResult } from './prometheus-tools';
export { seededRandom } from './seeded-random';
