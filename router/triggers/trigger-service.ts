import type { EventServiceServer, Trigger, TriggerServiceServer } from '../../proto/gen/stratus/v1/triggers';
import { unary, type HandlerContext } from '../grpc-handler';
import { formatEventFilter } from './event-filter';
import type { EventPublisher } from './event-publisher';
import type { TriggerManager } from './trigger-manager';
import type { TriggerRecord } from './trigger-registry';

function toPb(t: TriggerRecord): Trigger {
  return { id: t.id, functionName: t.functionName, subject: t.subject, filter: formatEventFilter(t.filter), createdMs: t.createdMs };
}

/** TriggerService: create, list and delete subject triggers. */
export function createTriggerService(ctx: HandlerContext, manager: TriggerManager): TriggerServiceServer {
  return {
    createTrigger: unary(ctx, 'stratus.TriggerService/CreateTrigger', async (req, span) => {
      span.setAttribute('faas.name', req.functionName);
      return toPb(await manager.create({ functionName: req.functionName, subject: req.subject, filter: req.filter }));
    }),
    listTriggers: unary(ctx, 'stratus.TriggerService/ListTriggers', async (req) => ({ triggers: (await manager.list(req.functionName || undefined)).map(toPb) })),
    deleteTrigger: unary(ctx, 'stratus.TriggerService/DeleteTrigger', async (req) => {
      await manager.delete(req.id);
      return {};
    }),
  };
}

/** EventService: publish an event as any NATS client would, with confirmation of capture. */
export function createEventService(ctx: HandlerContext, publisher: EventPublisher): EventServiceServer {
  return {
    publish: unary(ctx, 'stratus.EventService/Publish', async (req, span) => {
      span.setAttribute('messaging.destination.name', req.subject);
      return publisher.publish({ subject: req.subject, payload: req.payload, msgId: req.msgId, headers: req.headers });
    }),
  };
}
