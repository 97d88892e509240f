import { filterText } from './triggers';

describe('filterText', () => {
  test('filterText is empty when no --filter is given', () => {
    expect(filterText([])).toBe('');
  });
  test('filterText turns path=value into an equals condition when the shorthand is used', () => {
    expect(JSON.parse(filterText(['type=created']))).toEqual({ path: 'type', equals: 'created' });
    expect(JSON.parse(filterText(['order.total=100']))).toEqual({ path: 'order.total', equals: 100 });
  });
  test('filterText combines several flags into a list when more than one is given', () => {
    expect(JSON.parse(filterText(['type=created', '{"path":"region","prefix":"eu-"}']))).toEqual([
      { path: 'type', equals: 'created' },
      { path: 'region', prefix: 'eu-' },
    ]);
  });
  test('filterText passes malformed JSON through when it cannot be read, so the router explains', () => {
    expect(filterText(['{oops'])).toBe('{oops');
  });
});
