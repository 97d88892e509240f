import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import { StratusError } from '../core/errors';
import { isRevisionConflict } from './kv-records';

// JetStream's API errors as nats.js builds them from a server reply ({ code, err_code, description }).
function apiError(errCode: number, description: string): JetStreamApiError {
  return new JetStreamApiError({ code: 400, err_code: errCode, description });
}

describe('isRevisionConflict', () => {
  test('isRevisionConflict is true when the server reports a wrong last sequence with the sequence', () => {
    expect(isRevisionConflict(apiError(JetStreamApiCodes.StreamWrongLastSequence, 'wrong last sequence: 7'))).toBe(true);
  });

  test('isRevisionConflict is true when the server reports a wrong last sequence without it', () => {
    expect(isRevisionConflict(apiError(JetStreamApiCodes.StreamWrongLastSequenceUnknown, 'wrong last sequence'))).toBe(true);
  });

  test('isRevisionConflict is false when the API error is another one', () => {
    expect(isRevisionConflict(apiError(JetStreamApiCodes.StreamNotFound, 'stream not found'))).toBe(false);
    expect(isRevisionConflict(apiError(JetStreamApiCodes.NoMessageFound, 'no message found'))).toBe(false);
  });

  test('isRevisionConflict is false when the error is not a JetStream API error, whatever its text', () => {
    expect(isRevisionConflict(new Error('wrong last sequence: 7'))).toBe(false);
    expect(isRevisionConflict(new StratusError('RevisionConflict', 'wrong last sequence'))).toBe(false);
    expect(isRevisionConflict(undefined)).toBe(false);
    expect(isRevisionConflict({ code: JetStreamApiCodes.StreamWrongLastSequence })).toBe(false);
  });
});
