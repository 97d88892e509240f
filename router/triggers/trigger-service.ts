import type { EventServiceServer, Trigger, TriggerServiceServer } from '../../proto/gen/stratus/v1/triggers';
import { unary, type HandlerContext } from '../grpc-handler';
import { StratusError } from '../../sdk/core/errors';
import { validateFunctionName } from '../../sdk/core/function-config';
import { tenantOf } from '../../sdk/core/identity';
import { HEADERS } from '../../sdk/platform/nats-layout';
import type { InvokeTargets } from '../functions/invoke-target';
import type { FunctionCache } from '../functions/function-cache';
import { validateTriggerPattern } from './subject-patterns';
import { ownsSource, sourceTenant } from '../auth/source-ownership';
import { formatEventFilter } from './event-filter';
import type { EventPublisher } from './event-publisher';
import type { TriggerManager } from './trigger-manager';
import type { TriggerRecord } from './trigger-registry';

function toPb(t: TriggerRecord): Trigger {
  return { id: t.id, functionName: t.functionName, subject: t.subject, filter: formatEventFilter(t.filter), createdMs: t.createdMs, qualifier: t.qualifier ?? '' };
}

/** TriggerService: create, list and delete subject triggers, each owned by the tenant that created it. */
export function createTriggerService(ctx: HandlerContext, manager: TriggerManager, cache: FunctionCache, targets: Pick<InvokeTargets, 'resolve'>): TriggerServiceServer {
  const { access } = ctx;
  return {
    createTrigger: unary(ctx, 'stratus.TriggerService/CreateTrigger', async (req, span, caller) => {
      span.setAttribute('faas.name', req.functionName);
      const record = await cache.get(validateFunctionName(req.functionName));
      if (!record) throw new StratusError('FunctionNotFound', `function '${req.functionName}' does not exist: deploy it first (stratus deploy ${req.functionName} <folder>), then add the trigger`);
      const tenant = sourceTenant(caller, record);
      // Managing event sources is the caller's to do; invoking the function is the trigger's, on its tenant's behalf.
      await access.authorize(caller, 'function:write', { kind: 'function', name: req.functionName, tenant: caller.tenant });
      await access.authorize({ kind: 'source', source: 'subject', name: validateTriggerPattern(req.subject), tenant, depth: 0 }, 'function:invoke', { kind: 'function', name: record.config.name, tenant: tenantOf(record) });
      // The version or alias must exist now (it is resolved again for every event).
      if (req.qualifier) await targets.resolve(record.config.name, req.qualifier);
      return toPb(await manager.create({ tenant, functionName: req.functionName, subject: req.subject, filter: req.filter, qualifier: req.qualifier }));
    }),
    listTriggers: unary(ctx, 'stratus.TriggerService/ListTriggers', async (req, _span, caller) => {
      await access.authorize(caller, 'function:read', { kind: 'function', name: req.functionName || '*', tenant: caller.tenant });
      return { triggers: (await manager.list(req.functionName || undefined)).filter((t) => ownsSource(caller, tenantOf(t))).map(toPb) };
    }),
    deleteTrigger: unary(ctx, 'stratus.TriggerService/DeleteTrigger', async (req, _span, caller) => {
      await access.authorize(caller, 'function:write', { kind: 'function', name: '*', tenant: caller.tenant });
      const existing = (await manager.list()).find((t) => t.id === req.id);
      if (existing && !ownsSource(caller, tenantOf(existing))) throw new StratusError('AccessDenied', `trigger ${req.id} belongs to another tenant: only its tenant may delete it`);
      await manager.delete(req.id);
      return {};
    }),
  };
}

/** EventService: publish an event as any NATS client would, with confirmation of capture. */
export function createEventService(ctx: HandlerContext, publisher: EventPublisher): EventServiceServer {
  return {
    publish: unary(ctx, 'stratus.EventService/Publish', async (req, span, caller) => {
      span.setAttribute('messaging.destination.name', req.subject);
      // Subjects belong to no tenant: a user's token scope and a function's role decide.
      await ctx.access.authorize(caller, 'subject:publish', { kind: 'subject', name: req.subject, tenant: undefined });
      const headers = { ...req.headers };
      delete headers[HEADERS.chainDepth];
      if (caller.kind !== 'user') headers[HEADERS.chainDepth] = String(caller.depth);
      return publisher.publish({ subject: req.subject, payload: req.payload, msgId: req.msgId, headers });
    }),
  };
}
