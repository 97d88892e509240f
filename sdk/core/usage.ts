/**
 * Metering as pure functions: what one invocation costs, how a month's records add up per tenant
 * and function, and what they cost under a price table with a free tier.
 */
import { StratusError } from './errors';

/** One metered invocation. */
export interface UsageRecord {
  tenant: string;
  functionName: string;
  requestId: string;
  /** Billed duration as the agent reported it (rounded up to its billing granularity). */
  billedMs: number;
  memoryMb: number;
  atMs: number;
}

/** A function's usage over a period. MB-ms is exact (integers); GB-seconds derive from it. */
export interface FunctionUsage {
  functionName: string;
  requests: number;
  billedMs: number;
  mbMs: number;
}

/** A price table: Lambda's x86 prices and monthly free tier by default. */
export interface PriceTable {
  perMillionRequests: number;
  perGbSecond: number;
  freeRequests: number;
  freeGbSeconds: number;
  currency: string;
}

export const DEFAULT_PRICES: PriceTable = { perMillionRequests: 0.2, perGbSecond: 0.0000166667, freeRequests: 1_000_000, freeGbSeconds: 400_000, currency: 'USD' };

/** A tenant's month: per function, totals and cost. */
export interface TenantUsage {
  tenant: string;
  functions: FunctionUsage[];
  requests: number;
  billedMs: number;
  gbSeconds: number;
  cost: { requests: number; compute: number; total: number; freeRequestsUsed: number; freeGbSecondsUsed: number; currency: string };
}

/** GB-seconds of `mbMs` megabyte-milliseconds (Lambda: memory in GB, 1024 MB each, times seconds). */
export function gbSeconds(mbMs: number): number {
  return mbMs / 1024 / 1000;
}

/** The month ("YYYY-MM", UTC) a time falls in. */
export function monthOf(ms: number): string {
  return new Date(ms).toISOString().slice(0, 7);
}

/** Checks a month as a caller wrote it; empty means the current one. */
export function validateMonth(written: string, nowMs = Date.now()): string {
  if (!written) return monthOf(nowMs);
  const m = /^(\d{4})-(\d{2})$/.exec(written.trim());
  if (!m || Number(m[2]) < 1 || Number(m[2]) > 12) throw new StratusError('InvalidRequest', `month '${written}': write it as YYYY-MM, e.g. ${monthOf(nowMs)}`);
  return written.trim();
}

/**
 * Adds records to per-tenant, per-function sums. Every record is one run (an async retry runs,
 * and is billed, again under the same request id); a batch published twice is stored once by its
 * message id, so nothing here needs to deduplicate.
 */
export class UsageTally {
  private readonly byTenant = new Map<string, Map<string, FunctionUsage>>();

  add(r: UsageRecord): void {
    let fns = this.byTenant.get(r.tenant);
    if (!fns) this.byTenant.set(r.tenant, (fns = new Map()));
    let u = fns.get(r.functionName);
    if (!u) fns.set(r.functionName, (u = { functionName: r.functionName, requests: 0, billedMs: 0, mbMs: 0 }));
    u.requests += 1;
    u.billedMs += r.billedMs;
    u.mbMs += r.billedMs * r.memoryMb;
  }

  /** Every tenant's month, priced; tenants sorted by name, functions by name. */
  result(prices: PriceTable): TenantUsage[] {
    return [...this.byTenant.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([tenant, fns]) => priced(tenant, [...fns.values()].sort((a, b) => a.functionName.localeCompare(b.functionName)), prices));
  }
}

/** A tenant's month priced: the free tier first, then the table's prices. */
export function priced(tenant: string, functions: FunctionUsage[], prices: PriceTable): TenantUsage {
  const requests = functions.reduce((n, f) => n + f.requests, 0);
  const billedMs = functions.reduce((n, f) => n + f.billedMs, 0);
  const gbs = gbSeconds(functions.reduce((n, f) => n + f.mbMs, 0));
  const freeRequestsUsed = Math.min(requests, prices.freeRequests);
  const freeGbSecondsUsed = Math.min(gbs, prices.freeGbSeconds);
  const requestsCost = ((requests - freeRequestsUsed) / 1_000_000) * prices.perMillionRequests;
  const compute = (gbs - freeGbSecondsUsed) * prices.perGbSecond;
  return {
    tenant,
    functions,
    requests,
    billedMs,
    gbSeconds: gbs,
    cost: { requests: requestsCost, compute, total: requestsCost + compute, freeRequestsUsed, freeGbSecondsUsed, currency: prices.currency },
  };
}
