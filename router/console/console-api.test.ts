import { parseConfigEdit } from './console-api';
import { TO_HTTP_STATUS } from './http-status';
import { ERROR_CODES } from '../../sdk/core/errors';

describe('the console API', () => {
  test('parseConfigEdit keeps the settings the page may change, when their types are right', () => {
    expect(parseConfigEdit({ memoryMb: 256, timeoutSeconds: 10, reservedConcurrency: null, environment: { A: '1' }, other: 'ignored' })).toEqual({ memoryMb: 256, timeoutSeconds: 10, reservedConcurrency: null, environment: { A: '1' } });
    expect(parseConfigEdit({ maxRetryAttempts: 0, maxEventAgeSeconds: 60 })).toEqual({ maxRetryAttempts: 0, maxEventAgeSeconds: 60 });
  });

  test('parseConfigEdit refuses wrong types with a message naming the field, when a page sends them', () => {
    expect(() => parseConfigEdit('x')).toThrow(/JSON object/);
    expect(() => parseConfigEdit({ memoryMb: '256' })).toThrow(/memoryMb must be a number/);
    expect(() => parseConfigEdit({ environment: { A: 1 } })).toThrow(/environment must map names to strings/);
    expect(() => parseConfigEdit({ reservedConcurrency: 'all' })).toThrow(/reservedConcurrency/);
  });

  test('every error code has an HTTP status', () => {
    for (const code of ERROR_CODES) expect(TO_HTTP_STATUS[code]).toBeGreaterThanOrEqual(400);
  });
});
