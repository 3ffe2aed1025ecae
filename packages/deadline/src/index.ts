export { createDeadlineInterceptor } from './deadline-interceptor';
export { createServerContextInterceptor } from './server-context-interceptor';
export {
  CallContext,
  currentCallContext,
  currentSignal,
  remainingTimeMs,
  runWithCallContext,
  runDetached,
} from './call-context';
export {
  resolveDeadlineOptions,
  resolveServerContextOptions,
  deadlineToMs,
  DEFAULT_DEADLINE_MS,
  DEFAULT_STREAM_DEADLINE_MS,
  DEADLINE_OPTION_KEYS,
  DEFAULT_MIN_BUDGET_MS,
  DEFAULT_PROPAGATION_MARGIN_MS,
  type DeadlineOptions,
  type ResolvedDeadlineOptions,
  type ServerContextOptions,
} from './options';
