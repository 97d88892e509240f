import { failureRecord, type FailureInput } from './failure-record';

const base: FailureInput = {
  condition: 'RetryAttemptsExhausted',
  functionArn: 'arn:aws:lambda:local:0:function:f',
  last: { requestId: 'r1', invocations: 3, functionError: Buffer.from('{"errorType":"Error","errorMessage":"boom"}') },
  mappingId: 'm1',
  stream: 'ORDERS',
  subjectFilter: 'orders.>',
  eventSourceArn: 'arn:s',
  records: [
    { seq: 57, timestampMs: Date.UTC(2025, 0, 1, 0, 0, 2) },
    { seq: 40, timestampMs: Date.UTC(2025, 0, 1, 0, 0, 1) },
  ],
  maxBytes: 1_000_000,
  now: new Date(Date.UTC(2025, 0, 2)),
};

test('a failure record has Lambda shape with batch info naming every given-up sequence when the function failed', () => {
  expect(JSON.parse(failureRecord(base))).toEqual({
    version: '1.0',
    timestamp: '2025-01-02T00:00:00.000Z',
    requestContext: { requestId: 'r1', functionArn: 'arn:aws:lambda:local:0:function:f', condition: 'RetryAttemptsExhausted', approximateInvokeCount: 3 },
    responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
    responsePayload: { errorType: 'Error', errorMessage: 'boom' },
    JetStreamBatchInfo: {
      mappingId: 'm1',
      stream: 'ORDERS',
      subjectFilter: 'orders.>',
      streamArn: 'arn:s',
      startSequence: '40',
      endSequence: '57',
      sequences: ['40', '57'],
      approximateArrivalOfFirstRecord: '2025-01-01T00:00:01.000Z',
      approximateArrivalOfLastRecord: '2025-01-01T00:00:02.000Z',
      batchSize: 2,
    },
  });
});

test('a failure record includes the records when asked and they fit, and says why not when they do not', () => {
  const event = JSON.stringify({ Records: [{ sequence: '40' }] });
  expect(JSON.parse(failureRecord({ ...base, event })).requestPayload).toEqual({ Records: [{ sequence: '40' }] });
  const tooBig = JSON.parse(failureRecord({ ...base, event: JSON.stringify({ Records: ['x'.repeat(5000)] }), maxBytes: 2000 }));
  expect(tooBig.requestPayload).toBeUndefined();
  expect(tooBig.requestPayloadOmitted).toMatch(/read them from stream ORDERS/);
});

test('a failure record for expired records after throttles carries the platform error and no function error', () => {
  const rec = JSON.parse(failureRecord({ ...base, condition: 'MaximumRecordAgeExceeded', last: { requestId: 'r2', invocations: 0, platformError: { errorType: 'TooManyRequests', errorMessage: 'busy' } } }));
  expect(rec.requestContext.condition).toBe('MaximumRecordAgeExceeded');
  expect(rec.responseContext).toEqual({ statusCode: 500, executedVersion: '$LATEST' });
  expect(rec.responsePayload).toEqual({ errorType: 'TooManyRequests', errorMessage: 'busy' });
});
