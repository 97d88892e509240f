import { renderTemplate, scheduledEvent, tickPayload, tickRequestId, validateTemplate } from './schedule-payload';

const tick = { scheduleId: 'abc123abc123', tickMs: Date.UTC(2025, 0, 1, 12, 0, 0), requestId: 'sched-abc123abc123-1735732800000', region: 'local', accountId: '000000000000' };

describe('schedule payloads', () => {
  test('renderTemplate replaces $time, $epochMs and $schedule when they appear', () => {
    expect(renderTemplate('{"time":"$time","ms":$epochMs,"id":"$schedule"}', tick)).toBe('{"time":"2025-01-01T12:00:00.000Z","ms":1735732800000,"id":"abc123abc123"}');
  });
  test('renderTemplate leaves other dollar words alone when they are not placeholders', () => {
    expect(renderTemplate('{"a":"$timezone","b":"$other"}', tick)).toBe('{"a":"$timezone","b":"$other"}');
  });
  test('validateTemplate accepts a template when it renders to JSON', () => {
    expect(validateTemplate('{"at":$epochMs}')).toBe('{"at":$epochMs}');
    expect(validateTemplate('')).toBe('');
  });
  test('validateTemplate refuses a template with InvalidRequest when it does not render to JSON', () => {
    expect(() => validateTemplate('{"time":$time}')).toThrow(/must be JSON/);
  });
  test("scheduledEvent looks like EventBridge's Scheduled Event when no template is given", () => {
    expect(scheduledEvent(tick)).toEqual({
      version: '0',
      id: tick.requestId,
      'detail-type': 'Scheduled Event',
      source: 'aws.events',
      account: '000000000000',
      time: '2025-01-01T12:00:00Z',
      region: 'local',
      resources: ['arn:aws:events:local:000000000000:rule/abc123abc123'],
      detail: {},
    });
    expect(JSON.parse(tickPayload('', tick).toString())).toMatchObject({ 'detail-type': 'Scheduled Event' });
  });
  test('tickRequestId is the same for the same tick when computed twice', () => {
    expect(tickRequestId('abc', 5)).toBe('sched-abc-5');
  });
});
