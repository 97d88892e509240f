import type { GetUsageResponse, UsageServiceClient } from '../../proto/gen/stratus/v1/usage';
import type { UnaryCaller } from './router-transport';

/** A function's metered use in a month. */
export interface FunctionUsageInfo {
  functionName: string;
  requests: number;
  billedDurationMs: number;
  /** Memory × billed duration in MB-ms: exact. */
  mbMs: number;
  gbSeconds: number;
}

/** A tenant's month: its functions, totals and cost after the free tier. */
export interface TenantUsageInfo {
  tenant: string;
  functions: FunctionUsageInfo[];
  requests: number;
  billedDurationMs: number;
  gbSeconds: number;
  cost: { requests: number; compute: number; total: number; freeRequestsUsed: number; freeGbSecondsUsed: number; currency: string };
}

/** What `stratus usage` shows. */
export interface UsageReport {
  month: string;
  tenants: TenantUsageInfo[];
  prices: { perMillionRequests: number; perGbSecond: number; freeRequests: number; freeGbSeconds: number; currency: string };
}

/** Metering (client.usage). */
export class UsageClient {
  constructor(private readonly call: UnaryCaller<{ usage: UsageServiceClient }>) {}

  /** A month's usage ("YYYY-MM", default the current one) of the caller's tenant, or as an administrator of every tenant or one. */
  async get(options: { month?: string; tenant?: string } = {}): Promise<UsageReport> {
    const res = await this.call<GetUsageResponse>('read', 'GetUsage', (s, md, opts, cb) => s.usage.getUsage({ month: options.month ?? '', tenant: options.tenant ?? '' }, md, opts, cb));
    return {
      month: res.month,
      prices: res.prices ?? { perMillionRequests: 0, perGbSecond: 0, freeRequests: 0, freeGbSeconds: 0, currency: '' },
      tenants: res.tenants.map((t) => ({
        tenant: t.tenant,
        requests: t.requests,
        billedDurationMs: t.billedDurationMs,
        gbSeconds: t.gbSeconds,
        cost: t.cost ?? { requests: 0, compute: 0, total: 0, freeRequestsUsed: 0, freeGbSecondsUsed: 0, currency: '' },
        functions: t.functions.map((f) => ({ functionName: f.functionName, requests: f.requests, billedDurationMs: f.billedDurationMs, mbMs: f.mbMs, gbSeconds: f.gbSeconds })),
      })),
    };
  }
}
