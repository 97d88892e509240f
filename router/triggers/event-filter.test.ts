import { formatEventFilter, matchesFilter, parseEventFilter } from './event-filter';

describe('parseEventFilter', () => {
  test('parseEventFilter returns no conditions when the text is empty', () => {
    expect(parseEventFilter('')).toEqual([]);
    expect(parseEventFilter('  ')).toEqual([]);
  });
  test('parseEventFilter accepts one condition or a list when they are well formed', () => {
    expect(parseEventFilter('{"path":"type","equals":"created"}')).toEqual([{ path: 'type', equals: 'created' }]);
    expect(parseEventFilter('[{"path":"a","exists":true},{"path":"b.c","in":[1,2]}]')).toEqual([
      { path: 'a', exists: true },
      { path: 'b.c', in: [1, 2] },
    ]);
  });
  test.each([
    ['not json', /not JSON/],
    ['{"equals":1}', /"path"/],
    ['{"path":"a"}', /exactly one/],
    ['{"path":"a","equals":1,"prefix":"x"}', /exactly one/],
    ['{"path":"a","in":[]}', /"in"/],
    ['{"path":"a","exists":"yes"}', /"exists"/],
    ['{"path":"a","prefix":3}', /"prefix"/],
    ['{"path":"a","matches":"x"}', /unknown field/],
    ['{"path":"a..b","equals":1}', /"path"/],
    ['42', /JSON object/],
  ])('parseEventFilter refuses %s with a message naming the problem', (text, message) => {
    expect(() => parseEventFilter(text)).toThrow(message);
  });
  test('formatEventFilter writes one condition as an object and several as a list', () => {
    expect(formatEventFilter([])).toBe('');
    expect(formatEventFilter([{ path: 'a', equals: 1 }])).toBe('{"path":"a","equals":1}');
    expect(formatEventFilter([{ path: 'a', equals: 1 }, { path: 'b', exists: false }])).toBe('[{"path":"a","equals":1},{"path":"b","exists":false}]');
  });
});

describe('matchesFilter', () => {
  const data = { type: 'created', order: { id: 7, lines: [{ sku: 'x1' }], region: 'eu-west' }, flag: null };
  test.each([
    [{ path: 'type', equals: 'created' }, true],
    [{ path: 'type', equals: 'paid' }, false],
    [{ path: 'order', equals: { id: 7, lines: [{ sku: 'x1' }], region: 'eu-west' } }, true],
    [{ path: 'order.id', in: [1, 7] }, true],
    [{ path: 'order.id', in: ['7'] }, false],
    [{ path: 'order.lines.0.sku', equals: 'x1' }, true],
    [{ path: 'order.lines.1.sku', exists: false }, true],
    [{ path: 'flag', exists: true }, true],
    [{ path: 'flag', equals: null }, true],
    [{ path: 'missing', equals: null }, false],
    [{ path: 'order.region', prefix: 'eu-' }, true],
    [{ path: 'order.id', prefix: '7' }, false],
  ])('matchesFilter with %j is %s when the data has those fields', (c, want) => {
    expect(matchesFilter([c], data, true)).toBe(want);
  });
  test('matchesFilter needs every condition when there are several', () => {
    expect(matchesFilter([{ path: 'type', equals: 'created' }, { path: 'order.id', equals: 7 }], data, true)).toBe(true);
    expect(matchesFilter([{ path: 'type', equals: 'created' }, { path: 'order.id', equals: 8 }], data, true)).toBe(false);
  });
  test('matchesFilter passes everything when the filter is empty', () => {
    expect(matchesFilter([], 'aGVsbG8=', false)).toBe(true);
  });
  test('matchesFilter only holds for exists:false when the data is not JSON', () => {
    expect(matchesFilter([{ path: 'type', equals: 'created' }], 'dHlwZQ==', false)).toBe(false);
    expect(matchesFilter([{ path: 'type', exists: false }], 'dHlwZQ==', false)).toBe(true);
  });
  test('matchesFilter does not walk into prototypes when the path names an inherited property', () => {
    expect(matchesFilter([{ path: 'constructor', exists: true }], {}, true)).toBe(false);
  });
});
