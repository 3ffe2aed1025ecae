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
