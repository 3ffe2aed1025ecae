export {
  createClientLoggingInterceptor,
  attemptLogHooks,
  type ClientLoggingOptions,
} from './client-logging';
export { createServerLoggingInterceptor, type ServerLoggingOptions } from './server-logging';
export { redactMetadata, DEFAULT_REDACTED_KEYS, REDACTED } from './redact';
export { levelOf } from './levels';
export {
  adaptLogger,
  LOG_LEVELS,
  type LayerLogger,
  type LogLevel,
  type SafeLogger,
} from './logger';
