/** The Stratus client SDK's public entry. */
export { StratusClient } from './client/stratus-client';
export type { StratusClientOptions } from './client/client-options';
export type * from './client/types';
export type * from './client/route-types';
export type * from './client/event-source-types';
export type * from './client/mapping-client';
export type * from './client/table-client';
export { StratusError, type ErrorCode } from './core/errors';
export type * from './client/auth-client';
export type * from './client/usage-client';
export type * from './client/observability-client';
export type { LogEntry, LogLevel, LogFormat, LoggingConfig } from './core/function-logs';
export type { InvocationRecord, InvocationStatus, InvocationTrigger } from './core/invocation-record';
export type * from './client/versions-client';
