import type { FunctionRecord } from '../../sdk/core/function-config';
import { tenantOf, type Principal } from '../../sdk/core/identity';

// Event sources (triggers, schedules, mappings, routes) belong to the tenant that created them and
// invoke their function on that tenant's behalf.

/** The tenant a new event source belongs to: the caller's, or for an administrator the function's own. */
export function sourceTenant(caller: Principal, record: FunctionRecord): string {
  return caller.kind === 'user' && caller.admin ? tenantOf(record) : caller.tenant;
}

/** Whether `caller` may see or change an event source owned by `tenant`. */
export function ownsSource(caller: Principal, tenant: string): boolean {
  return (caller.kind === 'user' && caller.admin) || caller.tenant === tenant;
}

