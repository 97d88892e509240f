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
