export { ResilientServer, type ResilientServerOptions } from './resilient-server';
export { safeImplementation } from './safe-handlers';
export {
  resolveHandlerErrorOptions,
  isDeliberateStatus,
  toClientStatus,
  HANDLER_ERROR_WARNING,
  type HandlerErrorOptions,
  type ResolvedHandlerErrorOptions,
  type HandlerFailure,
  type DeliberateStatus,
  type AccidentStatus,
} from './handler-error';
export { ServerHealth, HEALTH_SERVICE_NAME, type ServingStatus } from './health';
export { CallTracker, type ServerStatus } from './call-tracker';
export {
  drainServer,
  resolveDrainOptions,
  DEFAULT_DRAIN_DELAY_MS,
  DEFAULT_GRACE_MS,
  DEFAULT_STREAM_GRACE_MS,
  DRAIN_DETAILS,
  DRAIN_REASON,
  type DrainOptions,
  type ResolvedDrainOptions,
  type DrainPhase,
  type DrainResult,
  type DrainTargets,
} from './drain';
/** gRFC A6's pushback trailer, defined once in the status package (re-exported for callers). */
export { PUSHBACK_METADATA_KEY } from '@grpc-resilience/status';
export { drainOnSignal, type DrainOnSignalOptions } from './drain-on-signal';
export { AdmissionControl, type AdmissionOptions, type AdmissionStats } from './admission';
export { PRIORITY_METADATA_KEY, type Priority } from './priority';
export { ConcurrencyLimit } from './concurrency-limit';
export {
  resolveConcurrencyLimitOptions,
  type ConcurrencyLimitOptions,
  type ResolvedConcurrencyLimitOptions,
} from './concurrency-limit-options';
export {
  mtlsServerCredentials,
  mtlsChannelCredentials,
  peerIdentity,
  DEFAULT_CERTIFICATE_REFRESH_MS,
  type MtlsFiles,
  type MtlsCredentials,
} from './mtls-credentials';
