import type { Meter } from '@opentelemetry/api';
import { DURATION_BUCKETS_SECONDS } from '../sdk/platform/metrics';
import type { FunctionRecord } from '../sdk/core/function-config';
import type { AgentOutcome } from './agent';
import type { InstancePool } from './instances/instance-pool';
import type { LogShipper } from './logs/log-shipper';

/** What the agent's metrics read: its pool, its log shipper and its size. */
export interface AgentMetricsSources {
  pool: Pick<InstancePool, 'snapshot'>;
  logs: Pick<LogShipper, 'stats'>;
  memoryTotalMb: number;
  slotsTotal: number;
}

const MB = 1024 * 1024;

/**
 * The agent's metrics, per function and for the agent as a whole, named after OpenTelemetry's FaaS
 * conventions where they have a name (faas.coldstarts, faas.init_duration, faas.mem_usage) and
 * `stratus.agent.*` / `stratus.logs.*` where they do not. Attributes are the function name and a
 * small closed set (instance state, drop reason): nothing per request.
 */
export class AgentMetrics {
  private readonly coldStarts;
  private readonly initDuration;
  private readonly memUsage;
  private readonly invocations;

  constructor(meter: Meter, sources: AgentMetricsSources) {
    this.coldStarts = meter.createCounter('faas.coldstarts', { description: 'Invocations that started a new instance on this agent', unit: '{coldstart}' });
    this.initDuration = meter.createHistogram('faas.init_duration', { description: 'Time a new instance took to initialise', unit: 's', advice: { explicitBucketBoundaries: DURATION_BUCKETS_SECONDS } });
    this.memUsage = meter.createHistogram('faas.mem_usage', { description: 'Peak memory of the instance an invocation ran on', unit: 'By', advice: { explicitBucketBoundaries: [64, 128, 256, 512, 1024, 2048, 4096, 10240].map((m) => m * MB) } });
    this.invocations = meter.createCounter('stratus.agent.invocations', { description: 'Invocations this agent ran, by whether the function failed', unit: '{invocation}' });

    const instances = meter.createObservableGauge('stratus.agent.instances', { description: 'Instances on this agent by state (idle instances are warm and waiting)', unit: '{instance}' });
    const memoryCapacity = meter.createObservableGauge('stratus.agent.memory.capacity', { description: 'Memory this agent gives instances', unit: 'By' });
    const memoryFree = meter.createObservableGauge('stratus.agent.memory.free', { description: 'Memory not booked by a running or starting instance (idle ones count as free: they are stopped for new work)', unit: 'By' });
    const memoryIdle = meter.createObservableGauge('stratus.agent.memory.idle', { description: 'Memory held by idle warm instances', unit: 'By' });
    const slotsCapacity = meter.createObservableGauge('stratus.agent.slots.capacity', { description: 'Most instances this agent runs at once', unit: '{instance}' });
    const slotsFree = meter.createObservableGauge('stratus.agent.slots.free', { description: 'Instances this agent could still start', unit: '{instance}' });
    const logLines = meter.createObservableCounter('stratus.logs.lines', { description: 'Function log lines this agent stored in log streams', unit: '{line}' });
    const logDropped = meter.createObservableCounter('stratus.logs.dropped', { description: 'Function log lines this agent did not store, by reason (budget: over the function\'s rate; buffer: agent buffer full; publish: the stream refused them)', unit: '{line}' });

    meter.addBatchObservableCallback(
      (r) => {
        const snap = sources.pool.snapshot();
        const byFunction = new Map<string, { idle: number; busy: number; starting: number }>();
        for (const f of snap.functions) {
          const c = byFunction.get(f.functionName) ?? { idle: 0, busy: 0, starting: 0 };
          c.idle += f.idle;
          c.busy += f.busy;
          c.starting += f.starting;
          byFunction.set(f.functionName, c);
        }
        for (const [fn, c] of byFunction) {
          for (const state of ['idle', 'busy', 'starting'] as const) r.observe(instances, c[state], { 'faas.name': fn, state });
        }
        r.observe(memoryCapacity, sources.memoryTotalMb * MB);
        r.observe(memoryFree, snap.memoryFreeMb * MB);
        r.observe(memoryIdle, snap.idleMemoryMb * MB);
        r.observe(slotsCapacity, sources.slotsTotal);
        r.observe(slotsFree, snap.slotsFree);
        for (const [fn, s] of sources.logs.stats()) {
          r.observe(logLines, s.lines, { 'faas.name': fn });
          for (const reason of ['budget', 'buffer', 'publish'] as const) r.observe(logDropped, s.dropped[reason], { 'faas.name': fn, reason });
        }
      },
      [instances, memoryCapacity, memoryFree, memoryIdle, slotsCapacity, slotsFree, logLines, logDropped],
    );
  }

  /** Counts one invocation this agent ran. */
  invoked(record: FunctionRecord, outcome: Extract<AgentOutcome, { kind: 'completed' }>): void {
    const attrs = { 'faas.name': record.config.name };
    this.invocations.add(1, { ...attrs, status: outcome.functionError ? 'error' : 'success' });
    if (outcome.coldStart) {
      this.coldStarts.add(1, attrs);
      if (outcome.initDurationMs !== undefined) this.initDuration.record(outcome.initDurationMs / 1000, attrs);
    }
    if (outcome.maxMemoryUsedMb > 0) this.memUsage.record(outcome.maxMemoryUsedMb * MB, attrs);
  }
}
