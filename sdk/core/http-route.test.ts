import { describeRoute, parseRoutePath } from './http-route';

describe('describeRoute', () => {
  test('parseRoutePath reads literals, parameters and a trailing greedy parameter when given a template', () => {
    expect(parseRoutePath('/')).toEqual([]);
    expect(parseRoutePath('/users/{id}/files/{path+}')).toEqual([
      { kind: 'literal', value: 'users' },
      { kind: 'param', name: 'id' },
      { kind: 'literal', value: 'files' },
      { kind: 'greedy', name: 'path' },
    ]);
  });

  test('describeRoute derives a stable id and route key when given a method and path', () => {
    const a = describeRoute({ method: 'get', path: '/users/{id}', functionName: 'fn' });
    expect(a.routeKey).toBe('GET /users/{id}');
    expect(a.id).toMatch(/^[0-9a-f]{12}$/);
    expect(describeRoute({ method: 'GET', path: '/users/{id}', functionName: 'other' }).id).toBe(a.id);
    expect(a.auth).toBe('none');
  });

  test.each([
    ['GET', 'users', /must start with \//],
    ['GET', '/a/{p+}/b', /greedy/],
    ['GET', '/a/{x}/{x}', /twice/],
    ['GET', '/a b', /characters/],
    ['GET', '/a//b', /empty segment/],
    ['FETCH', '/a', /not a route method/],
    ['GET', '$default', /ANY \$default/],
    ['GET', '/fn/x', /function URLs/],
    ['GET', '/healthz', /health/],
  ])('describeRoute refuses %s %s when it is not a valid route', (method, path, message) => {
    expect(() => describeRoute({ method, path, functionName: 'fn' })).toThrow(message);
  });
});
