import { LRUCache } from 'lru-cache';

/** Counters of one mapping on this router. */
export interface MappingCounters {
  functionName: string;
  /** Batch invocations started. */
  batches: number;
  /** Records acknowledged after their batch succeeded. */
  recordsSucceeded: number;
  /** Batches that failed with a function error (or reported failed items). */
  functionErrors: number;
  /** Batches put back because of a throttle or a platform error (no retry attempt used). */
  throttles: number;
  /** Records given up on and sent to the on-failure destination or dead letters. */
  recordsFailed: number;
  /** Failure records that went to dead letters because there was no destination or it failed. */
  deadLettered: number;
  /** Age of the newest record of the last batch started, ms (Lambda's IteratorAge). */
  iteratorAgeMs: number;
}

type Counter = Exclude<keyof MappingCounters, 'functionName' | 'iteratorAgeMs'>;

/** Per-mapping counters of this router, bounded (least recently active mappings are dropped, and counted). */
export class MappingMetrics {
  private readonly byMapping: LRUCache<string, MappingCounters>;
  /** Mappings whose counters were dropped to stay within the bound. */
  dropped = 0;

  constructor(maxMappings: number) {
    this.byMapping = new LRUCache<string, MappingCounters>({ max: maxMappings, dispose: (_v, _k, reason) => (reason === 'evict' ? (this.dropped += 1) : undefined) });
  }

  /** Adds to a counter. */
  count(mappingId: string, functionName: string, counter: Counter, by = 1): void {
    this.get(mappingId, functionName)[counter] += by;
  }

  /** Records the iterator age seen when a batch starts. */
  iteratorAge(mappingId: string, functionName: string, ageMs: number): void {
    this.get(mappingId, functionName).iteratorAgeMs = ageMs;
  }

  /** A copy of one mapping's counters. */
  of(mappingId: string): MappingCounters | undefined {
    const c = this.byMapping.peek(mappingId);
    return c && { ...c };
  }

  /** Prometheus text exposition. */
  prometheus(): string {
    const names: Array<[keyof MappingCounters, string, string]> = [
      ['batches', 'counter', 'stratus_mapping_batches_total'],
      ['recordsSucceeded', 'counter', 'stratus_mapping_records_succeeded_total'],
      ['functionErrors', 'counter', 'stratus_mapping_function_errors_total'],
      ['throttles', 'counter', 'stratus_mapping_throttles_total'],
      ['recordsFailed', 'counter', 'stratus_mapping_records_failed_total'],
      ['deadLettered', 'counter', 'stratus_mapping_dead_lettered_total'],
      ['iteratorAgeMs', 'gauge', 'stratus_mapping_iterator_age_ms'],
    ];
    const lines: string[] = [];
    for (const [key, type, metric] of names) {
      lines.push(`# TYPE ${metric} ${type}`);
      for (const [id, c] of this.byMapping.entries()) lines.push(`${metric}{mapping="${id}",function="${c.functionName}"} ${c[key]}`);
    }
    return `${lines.join('\n')}\n`;
  }

  private get(mappingId: string, functionName: string): MappingCounters {
    let c = this.byMapping.get(mappingId);
    if (!c) {
      c = { functionName, batches: 0, recordsSucceeded: 0, functionErrors: 0, throttles: 0, recordsFailed: 0, deadLettered: 0, iteratorAgeMs: 0 };
      this.byMapping.set(mappingId, c);
    }
    return c;
  }
}
