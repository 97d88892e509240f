import type { sendUnaryData, ServerUnaryCall } from '@grpc/grpc-js';
import { context, SpanKind, SpanStatusCode, type Tracer } from '@opentelemetry/api';
import type { AgentInvokeRequest, AgentInvokeResponse, AgentServiceServer } from '../proto/gen/stratus/v1/agent';
import { requireToken } from '../sdk/core/auth';
import { StratusError, toStratusError } from '../sdk/core/errors';
import type { Logger } from '../sdk/core/logger';
import { functionRecordFromPb } from '../sdk/core/wire/function-codec';
import { toGrpcStatus } from '../sdk/core/wire/grpc-errors';
import { extractFromMetadata } from '../sdk/core/trace-context';
import type { Agent, AgentOutcome } from './agent';

function toResponse(outcome: AgentOutcome): AgentInvokeResponse {
  if (outcome.kind === 'refused') return { outcome: { $case: 'refused', value: { reason: outcome.reason, message: outcome.message } } };
  return {
    outcome: {
      $case: 'result',
      value: {
        payload: outcome.payload,
        functionFailed: outcome.functionError !== undefined,
        errorType: outcome.functionError?.errorType ?? '',
        errorMessage: outcome.functionError?.errorMessage ?? '',
        stackTrace: outcome.functionError?.stackTrace ?? [],
        logTail: outcome.logTail,
        durationMs: outcome.durationMs,
        billedDurationMs: outcome.billedDurationMs,
        initDurationMs: outcome.initDurationMs,
        maxMemoryUsedMb: outcome.maxMemoryUsedMb,
        coldStart: outcome.coldStart,
      },
    },
  };
}

/** The agent's gRPC face for routers: authenticates with the cluster token and runs invocations. */
export function createAgentService(agent: Agent, clusterTokens: readonly string[], tracer: Tracer, logger: Logger): AgentServiceServer {
  return {
    invoke(call: ServerUnaryCall<AgentInvokeRequest, AgentInvokeResponse>, callback: sendUnaryData<AgentInvokeResponse>): void {
      const parent = extractFromMetadata(call.metadata);
      context.with(parent, () =>
        tracer.startActiveSpan('stratus.agent.invoke', { kind: SpanKind.SERVER }, async (span) => {
          try {
            requireToken(call.metadata, clusterTokens, 'routers must use the cluster token (STRATUS_CLUSTER_TOKEN)');
            const req = call.request;
            const fn = req.spec?.function;
            if (!fn) throw new StratusError('InvalidRequest', 'invoke request without a function spec');
            const record = functionRecordFromPb(fn);
            span.setAttribute('faas.name', record.config.name);
            span.setAttribute('faas.invocation_id', req.requestId);
            const outcome = await agent.invoke({
              requestId: req.requestId,
              record,
              payload: req.payload,
              deadlineMs: req.deadlineMs,
              invokedFunctionArn: req.invokedFunctionArn,
              clientContext: req.clientContext || undefined,
            });
            span.setAttribute('stratus.outcome', outcome.kind);
            callback(null, toResponse(outcome));
          } catch (err) {
            const e = toStratusError(err);
            span.setStatus({ code: SpanStatusCode.ERROR, message: e.code });
            if (e.code !== 'Unauthenticated') logger.warn('invoke failed', { err: e });
            callback(toGrpcStatus(e));
          } finally {
            span.end();
          }
        }),
      );
    },
  };
}
