import type { JetStreamManager } from '@nats-io/jetstream';
import type { UsageServiceServer } from '../../proto/gen/stratus/v1/usage';
import { StratusError } from '../../sdk/core/errors';
import { validateIdentityName, type Principal } from '../../sdk/core/identity';
import { unary, type HandlerContext } from '../grpc-handler';
import { readUsage } from './usage-query';
import { gbSeconds, validateMonth, type PriceTable } from '../../sdk/core/usage';

/** The tenant whose usage a caller may read: its own, or for administrators any (undefined: all). */
export function usageTenantFilter(requested: string, caller: Principal): string | undefined {
  const admin = caller.kind === 'user' && caller.admin;
  if (!requested) return admin ? undefined : caller.tenant;
  validateIdentityName('tenant', requested);
  if (!admin && requested !== caller.tenant) throw new StratusError('AccessDenied', `${caller.tenant} principals may not usage:read on tenant ${requested}: only administrators read other tenants' usage`);
  return requested;
}

/** UsageService: a month's requests, billed duration, GB-seconds and cost per tenant and function. */
export function createUsageService(ctx: HandlerContext, jsm: JetStreamManager, prices: PriceTable): UsageServiceServer {
  return {
    getUsage: unary(ctx, 'stratus.UsageService/GetUsage', async (req, _span, caller) => {
      const month = validateMonth(req.month);
      const tenant = usageTenantFilter(req.tenant, caller);
      await ctx.access.authorize(caller, 'usage:read', { kind: 'usage', name: month, tenant: tenant ?? caller.tenant });
      const tenants = await readUsage(jsm, month, tenant, prices);
      return {
        month,
        prices,
        tenants: tenants.map((t) => ({
          tenant: t.tenant,
          requests: t.requests,
          billedDurationMs: t.billedMs,
          gbSeconds: t.gbSeconds,
          cost: t.cost,
          functions: t.functions.map((f) => ({ functionName: f.functionName, requests: f.requests, billedDurationMs: f.billedMs, mbMs: f.mbMs, gbSeconds: gbSeconds(f.mbMs) })),
        })),
      };
    }),
  };
}
