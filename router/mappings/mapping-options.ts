import { StratusError } from '../../sdk/core/errors';

/** How a router runs event source mappings. main.ts builds it from the environment. */
export interface MappingOptions {
  routerId: string;
  region: string;
  accountId: string;
  /** Replicas of the mappings and leases buckets. Default 1. */
  replicas: number;
  /**
   * How long a mapping's lease lives without renewal (the leases bucket's max age, fixed when
   * the bucket is created; a router that finds another value uses the bucket's). A dead poller's
   * mappings move to another router after about this long. Default 10000 (STRATUS_MAPPING_LEASE_TTL_MS).
   */
  leaseTtlMs: number;
  /** Ack wait of mapping consumers; redeliveries of records a poller holds are ignored. Default 300000. */
  ackWaitMs: number;
  /** Long-poll of one fetch. Default 5000. */
  fetchExpiresMs: number;
  /** Most records one mapping holds in memory (at least one batch's worth). Default 20000 (STRATUS_MAPPING_MAX_BUFFERED_RECORDS). */
  maxBufferedRecords: number;
  /** Most record bytes one mapping holds in memory (at least one batch's worth). Default 64 MB. */
  maxBufferedBytes: number;
  /** Delay before the first retry after a function error; doubles up to retryCapMs. Default 1000 (STRATUS_MAPPING_RETRY_BASE_MS). */
  retryBaseMs: number;
  /** Default 60000. */
  retryCapMs: number;
  /** First delay after a throttle or platform error; doubles up to throttleCapMs (Lambda: 1 s to 5 min). Default 1000 (STRATUS_MAPPING_THROTTLE_BASE_MS). */
  throttleBaseMs: number;
  /** Default 300000. */
  throttleCapMs: number;
  /** Time allowed beyond the function timeout for placement and cold start. Default 15000. */
  invokeSlackMs: number;
  /** Hand mappings back to the router they prefer when it joins (one per tick, each held at least 30 s). Default true. */
  rebalance: boolean;
}

/** Applies defaults and validates; the one place mapping options are resolved. */
export function resolveMappingOptions(input: Partial<MappingOptions> & Pick<MappingOptions, 'routerId' | 'region' | 'accountId'>): MappingOptions {
  const leaseTtlMs = input.leaseTtlMs ?? 10_000;
  if (!Number.isInteger(leaseTtlMs) || leaseTtlMs < 1000 || leaseTtlMs > 600_000) {
    throw new StratusError('InvalidRequest', `STRATUS_MAPPING_LEASE_TTL_MS=${leaseTtlMs}: use 1000 to 600000 ms`);
  }
  const maxBufferedRecords = input.maxBufferedRecords ?? 20_000;
  if (!Number.isInteger(maxBufferedRecords) || maxBufferedRecords < 1) {
    throw new StratusError('InvalidRequest', `STRATUS_MAPPING_MAX_BUFFERED_RECORDS=${maxBufferedRecords}: use a positive whole number`);
  }
  return {
    routerId: input.routerId,
    region: input.region,
    accountId: input.accountId,
    replicas: input.replicas ?? 1,
    leaseTtlMs,
    ackWaitMs: input.ackWaitMs ?? 300_000,
    fetchExpiresMs: input.fetchExpiresMs ?? 5000,
    maxBufferedRecords,
    maxBufferedBytes: input.maxBufferedBytes ?? 64 * 1024 * 1024,
    retryBaseMs: input.retryBaseMs ?? 1000,
    retryCapMs: input.retryCapMs ?? 60_000,
    throttleBaseMs: input.throttleBaseMs ?? 1000,
    throttleCapMs: input.throttleCapMs ?? 300_000,
    invokeSlackMs: input.invokeSlackMs ?? 15_000,
    rebalance: input.rebalance ?? true,
  };
}
