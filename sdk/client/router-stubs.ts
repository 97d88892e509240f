import * as grpc from '@grpc/grpc-js';
import { AuthServiceClient, PolicyServiceClient } from '../../proto/gen/stratus/v1/auth';
import { BucketServiceClient } from '../../proto/gen/stratus/v1/buckets';
import { UsageServiceClient } from '../../proto/gen/stratus/v1/usage';
import { InvocationServiceClient, LogServiceClient } from '../../proto/gen/stratus/v1/observability';
import { ClusterServiceClient } from '../../proto/gen/stratus/v1/cluster';
import { DeadLetterServiceClient } from '../../proto/gen/stratus/v1/dead_letters';
import { FunctionServiceClient } from '../../proto/gen/stratus/v1/functions';
import { InvokeServiceClient } from '../../proto/gen/stratus/v1/invoke';
import { LayerServiceClient } from '../../proto/gen/stratus/v1/layers';
import { MappingServiceClient } from '../../proto/gen/stratus/v1/mappings';
import { RouteServiceClient } from '../../proto/gen/stratus/v1/routes';
import { ScheduleServiceClient } from '../../proto/gen/stratus/v1/schedules';
import { TableServiceClient } from '../../proto/gen/stratus/v1/tables';
import { EventServiceClient, TriggerServiceClient } from '../../proto/gen/stratus/v1/triggers';
import { LIMITS } from '../core/limits';
import type { ResolvedClientTls } from './client-options';

/** Every service stub for one router, all sharing one channel so they connect (and fail) together. */
export interface Stubs {
  channel: grpc.Channel;
  functions: FunctionServiceClient;
  invoke: InvokeServiceClient;
  cluster: ClusterServiceClient;
  deadLetters: DeadLetterServiceClient;
  layers: LayerServiceClient;
  routes: RouteServiceClient;
  triggers: TriggerServiceClient;
  events: EventServiceClient;
  schedules: ScheduleServiceClient;
  mappings: MappingServiceClient;
  tables: TableServiceClient;
  buckets: BucketServiceClient;
  auth: AuthServiceClient;
  policies: PolicyServiceClient;
  usage: UsageServiceClient;
  logs: LogServiceClient;
  invocations: InvocationServiceClient;
}

/** Opens a channel to `endpoint` (TLS when `tls` is given) and the stubs over it; nothing connects until the first call. */
export function createStubs(endpoint: string, tls: ResolvedClientTls | undefined): Stubs {
  const creds = tls ? grpc.credentials.createSsl(tls.ca ?? null) : grpc.credentials.createInsecure();
  const channelOptions = {
    ...(tls?.serverName ? { 'grpc.ssl_target_name_override': tls.serverName, 'grpc.default_authority': tls.serverName } : {}),
    'grpc.max_receive_message_length': LIMITS.maxGrpcMessageBytes,
    'grpc.max_send_message_length': LIMITS.maxGrpcMessageBytes,
    // Short reconnect backoff: a router that comes back should be usable again within a second.
    'grpc.initial_reconnect_backoff_ms': 100,
    'grpc.max_reconnect_backoff_ms': 1000,
  };
  const channel = new grpc.Channel(endpoint, creds, channelOptions);
  // One channel for all stubs: the transport checks its state before a call to decide on failover.
  const opts = { ...channelOptions, channelOverride: channel };
  return {
    channel,
    functions: new FunctionServiceClient(endpoint, creds, opts),
    invoke: new InvokeServiceClient(endpoint, creds, opts),
    cluster: new ClusterServiceClient(endpoint, creds, opts),
    deadLetters: new DeadLetterServiceClient(endpoint, creds, opts),
    layers: new LayerServiceClient(endpoint, creds, opts),
    routes: new RouteServiceClient(endpoint, creds, opts),
    triggers: new TriggerServiceClient(endpoint, creds, opts),
    events: new EventServiceClient(endpoint, creds, opts),
    schedules: new ScheduleServiceClient(endpoint, creds, opts),
    mappings: new MappingServiceClient(endpoint, creds, opts),
    tables: new TableServiceClient(endpoint, creds, opts),
    buckets: new BucketServiceClient(endpoint, creds, opts),
    auth: new AuthServiceClient(endpoint, creds, opts),
    policies: new PolicyServiceClient(endpoint, creds, opts),
    usage: new UsageServiceClient(endpoint, creds, opts),
    logs: new LogServiceClient(endpoint, creds, opts),
    invocations: new InvocationServiceClient(endpoint, creds, opts),
  };
}

/** Closes every stub and then the channel they share. */
export function closeStubs(s: Stubs): void {
  s.functions.close();
  s.invoke.close();
  s.cluster.close();
  s.deadLetters.close();
  s.layers.close();
  s.routes.close();
  s.triggers.close();
  s.events.close();
  s.schedules.close();
  s.mappings.close();
  s.auth.close();
  s.policies.close();
  s.usage.close();
  s.tables.close();
  s.buckets.close();
  s.channel.close();
}
