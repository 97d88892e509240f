import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { ERROR_CODES, StratusError, type ErrorCode } from '../errors';
import { ERROR_CODE_KEY, RETRY_AFTER_KEY, fromGrpcError, toGrpcStatus } from './grpc-errors';

/** What grpc-js hands a client callback: an Error with the status, details and trailing metadata. */
function serviceError(code: status, details: string, metadata = new Metadata()): ServiceError {
  return Object.assign(new Error(`${code} ${status[code]}: ${details}`), { code, details, metadata });
}

/** Sends a StratusError through toGrpcStatus and back, as server and client would see it. */
function roundTrip(err: StratusError, hint?: string): StratusError {
  const s = toGrpcStatus(err);
  return fromGrpcError(serviceError(s.code, s.details, s.metadata), hint);
}

describe('toGrpcStatus and fromGrpcError', () => {
  test.each(ERROR_CODES.map((c) => [c]))('fromGrpcError restores the code %s when it went through toGrpcStatus', (code: ErrorCode) => {
    const original = new StratusError(code, `something about ${code}: do this`);
    const back = roundTrip(original, 'is the router running?');
    expect(back).toBeInstanceOf(StratusError);
    expect(back.code).toBe(code);
    // The Stratus code is in the metadata, so no unreachable hint is added.
    expect(back.message).toBe(original.message);
    expect(back.retryable).toBe(original.retryable);
    expect(back.retryAfterMs).toBeUndefined();
  });

  test('toGrpcStatus puts the code in metadata and the message in details when it converts', () => {
    const s = toGrpcStatus(new StratusError('FunctionNotFound', "function 'x' does not exist"));
    expect(s.code).toBe(status.NOT_FOUND);
    expect(s.details).toBe("function 'x' does not exist");
    expect(s.metadata.get(ERROR_CODE_KEY)).toEqual(['FunctionNotFound']);
    expect(s.metadata.get(RETRY_AFTER_KEY)).toEqual([]);
  });

  test.each([
    ['InvalidRequest', status.INVALID_ARGUMENT],
    ['PayloadTooLarge', status.RESOURCE_EXHAUSTED],
    ['TooManyRequests', status.RESOURCE_EXHAUSTED],
    ['Timeout', status.DEADLINE_EXCEEDED],
    ['ServiceUnavailable', status.UNAVAILABLE],
    ['Internal', status.INTERNAL],
  ] as const)('toGrpcStatus maps %s to the matching gRPC status when it converts', (code, grpcStatus) => {
    expect(toGrpcStatus(new StratusError(code, 'm')).code).toBe(grpcStatus);
  });

  test('fromGrpcError carries retryAfterMs when a throttle sets it', () => {
    const back = roundTrip(new StratusError('TooManyRequests', 'slow down', { retryAfterMs: 250 }));
    expect(back.code).toBe('TooManyRequests');
    expect(back.retryAfterMs).toBe(250);
    expect(back.retryable).toBe(true);
  });

  test('toGrpcStatus rounds retryAfterMs up to whole milliseconds when it is fractional', () => {
    const s = toGrpcStatus(new StratusError('TooManyRequests', 'slow down', { retryAfterMs: 12.2 }));
    expect(s.metadata.get(RETRY_AFTER_KEY)).toEqual(['13']);
    expect(fromGrpcError(serviceError(s.code, s.details, s.metadata)).retryAfterMs).toBe(13);
  });

  test('fromGrpcError ignores the retry hint when it is not a positive number', () => {
    for (const value of ['abc', '0', '-5']) {
      const md = new Metadata();
      md.set(ERROR_CODE_KEY, 'TooManyRequests');
      md.set(RETRY_AFTER_KEY, value);
      expect(fromGrpcError(serviceError(status.RESOURCE_EXHAUSTED, 'x', md)).retryAfterMs).toBeUndefined();
    }
  });

  test('fromGrpcError keeps the gRPC error as the cause when it translates', () => {
    const raw = serviceError(status.NOT_FOUND, 'gone');
    expect(fromGrpcError(raw).cause).toBe(raw);
  });

  test('fromGrpcError maps a bare UNAVAILABLE to ServiceUnavailable with the hint appended when no Stratus code is present', () => {
    const err = fromGrpcError(serviceError(status.UNAVAILABLE, 'No connection established'), 'start the router or check --endpoint');
    expect(err.code).toBe('ServiceUnavailable');
    expect(err.message).toBe('No connection established: start the router or check --endpoint');
    expect(err.retryable).toBe(true);
  });

  test('fromGrpcError leaves the message alone when a bare UNAVAILABLE comes without a hint', () => {
    expect(fromGrpcError(serviceError(status.UNAVAILABLE, 'No connection established')).message).toBe('No connection established');
  });

  test('fromGrpcError does not append the hint when the server sent AgentLost over UNAVAILABLE', () => {
    const err = roundTrip(new StratusError('AgentLost', 'the agent went away: retry'), 'start the router');
    expect(err.code).toBe('AgentLost');
    expect(err.message).toBe('the agent went away: retry');
  });

  test.each([
    [status.INVALID_ARGUMENT, 'InvalidRequest'],
    [status.NOT_FOUND, 'FunctionNotFound'],
    [status.ALREADY_EXISTS, 'FunctionAlreadyExists'],
    [status.RESOURCE_EXHAUSTED, 'TooManyRequests'],
    [status.UNAUTHENTICATED, 'Unauthenticated'],
    [status.PERMISSION_DENIED, 'AccessDenied'],
    [status.DEADLINE_EXCEEDED, 'Timeout'],
    [status.CANCELLED, 'Cancelled'],
    [status.UNIMPLEMENTED, 'Internal'],
    [status.UNKNOWN, 'Internal'],
  ] as const)('fromGrpcError maps bare status %p to %s when no Stratus code is present', (grpcStatus, code) => {
    expect(fromGrpcError(serviceError(grpcStatus, 'x')).code).toBe(code);
  });

  test('fromGrpcError falls back to the status when the metadata code is unknown', () => {
    const md = new Metadata();
    md.set(ERROR_CODE_KEY, 'NotARealCode');
    expect(fromGrpcError(serviceError(status.PERMISSION_DENIED, 'no', md)).code).toBe('AccessDenied');
  });

  test('fromGrpcError uses the error message when details are empty', () => {
    const raw = serviceError(status.INTERNAL, '');
    expect(fromGrpcError(raw).message).toBe(raw.message);
  });

  test('fromGrpcError returns a StratusError unchanged when given one', () => {
    const err = new StratusError('Timeout', 't');
    expect(fromGrpcError(err)).toBe(err);
  });

  test('fromGrpcError wraps anything else as Internal when it is not a gRPC error', () => {
    const plain = new Error('boom');
    const err = fromGrpcError(plain);
    expect(err.code).toBe('Internal');
    expect(err.cause).toBe(plain);
    expect(fromGrpcError('a string').code).toBe('Internal');
  });
});
