export { createClientLoggingInterceptor, type ClientLoggingOptions } from './client-logging';
export {
  attemptLogHooks,
  type RetryLogEvent,
  type GiveUpLogEvent,
  type HedgeLogEvent,
} from './attempt-log-hooks';
export { createServerLoggingInterceptor, type ServerLoggingOptions } from './server-logging';
export { redactMetadata, DEFAULT_REDACTED_KEYS, REDACTED } from './redact';
export {
  adaptLogger,
  LOG_LEVELS,
  type LayerLogger,
  type LogLevel,
  type SafeLogger,
} from './logger';
