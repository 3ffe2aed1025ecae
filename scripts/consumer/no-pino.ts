// Compiled by scripts/consumer-check after `npm uninstall pino`: pino is an optional peer, so the
// published types must compile (skipLibCheck false) for a consumer that logs with something else.
import { resilientOptions, type ResilientConfig } from '@grpc-resilience/channel';
import { createClientLoggingInterceptor } from '@grpc-resilience/logging';

// Any logger of pino's shape will do: here the console.
const config: ResilientConfig = { deadline: { defaultMs: 1000 }, logger: console };
export const options = resilientOptions(config);
export const loggingInterceptor = createClientLoggingInterceptor;
