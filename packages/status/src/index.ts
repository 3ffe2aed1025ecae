export {
  classifyStatus,
  classifyStatusCode,
  statusName,
  type StatusClass,
  type StatusCodeClass,
  type StatusFault,
} from './classify';
export {
  statusOrigin,
  isMessageTooLarge,
  isNeverSent,
  isChannelClosed,
  isFromTrailers,
  layerRefusalReason,
  PROPAGATED_CANCEL_PREFIX,
  type StatusOrigin,
  type StatusContext,
  type StatusLike,
} from './origin';
export { GrpcResilienceError, ConfigError, CONFIG_ERROR_CODE, describeValue } from './errors';
export {
  integerOption,
  numberOption,
  booleanOption,
  enumOption,
  functionOption,
  objectOption,
  isPlainObject,
  resolvedOptions,
  isResolvedOptions,
  type NumberRange,
} from './validate';
export {
  MethodTable,
  resolveMethodTable,
  serviceOf,
  methodsFromService,
  MAX_TIMEOUT_MS,
  type MethodPolicy,
  type MethodsConfig,
} from './method-table';
export {
  readServiceIdempotency,
  warnIfNoIdempotency,
  NO_IDEMPOTENCY_MESSAGE,
  type ServiceIdempotency,
  type WarnLogger,
} from './service-idempotency';
export { rejectedCall, REASON_METADATA_KEY, DEADLINE_BUDGET_REASON } from './rejected-call';
export { ForwardingCall, type InterceptingCallInterface } from './forwarding-call';
export { DEDUP_SCOPE_METADATA_KEY, readDedupScope, type DedupScope } from './dedup-scope';
export { LONG_LIVED_CALL_KEY, isStreamOwnDeadline } from './stream-end';
export {
  ATTEMPTS_METADATA_KEY,
  RETRY_STOPPED_METADATA_KEY,
  AVOID_PEER_METADATA_KEY,
  PICKED_PEER_KEY,
  type PickedPeerSlot,
} from './layer-metadata';
export { deadlineToMs } from './deadline-ms';
export { callUserCode, warnUserCode, USER_CODE_WARNING } from './user-code';
export {
  retryInfoStatusDetails,
  readRetryInfoMs,
  STATUS_DETAILS_METADATA_KEY,
  RETRY_INFO_TYPE_URL,
  PUSHBACK_METADATA_KEY,
} from './retry-info';
