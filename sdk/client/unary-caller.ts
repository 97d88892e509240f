import type * as grpc from '@grpc/grpc-js';

/**
 * How a service sub-client (client.mappings, client.tables, client.buckets) makes a unary call
 * through the StratusClient: with its deadline, retry class, failover and error translation.
 * `S` is the set of service stubs for one router.
 */
export type UnaryCaller<S> = <T>(
  cls: 'read' | 'write',
  method: string,
  send: (s: S, md: grpc.Metadata, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res: T) => void) => grpc.ClientUnaryCall,
) => Promise<T>;
