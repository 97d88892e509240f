import { describeRoute, type RouteRecord } from '../../sdk/core/http-route';
import { RouteTable } from './route-table';

function route(method: string, path: string, functionName = 'fn'): RouteRecord {
  return { ...describeRoute({ method, path, functionName }), createdMs: 0 };
}

function matched(table: RouteTable, method: string, path: string): { key: string; params: Record<string, string> } | undefined {
  const m = table.match(method, path);
  return m.kind === 'route' ? { key: m.route.routeKey, params: m.pathParameters } : undefined;
}

describe('RouteTable', () => {
  test('match picks the exact path over a parameter and a parameter over a greedy path when several match', () => {
    const table = RouteTable.compile([route('GET', '/{proxy+}'), route('GET', '/users/{id}'), route('GET', '/users/me')]);
    expect(matched(table, 'GET', '/users/me')?.key).toBe('GET /users/me');
    expect(matched(table, 'GET', '/users/42')).toEqual({ key: 'GET /users/{id}', params: { id: '42' } });
    expect(matched(table, 'GET', '/users/42/posts')).toEqual({ key: 'GET /{proxy+}', params: { proxy: 'users/42/posts' } });
  });

  test('match prefers a named method over ANY when the paths are the same', () => {
    const table = RouteTable.compile([route('ANY', '/items'), route('POST', '/items')]);
    expect(matched(table, 'POST', '/items')?.key).toBe('POST /items');
    expect(matched(table, 'GET', '/items')?.key).toBe('ANY /items');
  });

  test('match prefers the more specific path over a named method when an ANY route is more specific', () => {
    const table = RouteTable.compile([route('GET', '/users/{id}'), route('ANY', '/users/me')]);
    expect(matched(table, 'GET', '/users/me')?.key).toBe('ANY /users/me');
  });

  test('match prefers the leftmost literal segment when two parameterised routes match', () => {
    const table = RouteTable.compile([route('GET', '/a/{x}/c'), route('GET', '/a/b/{y}')]);
    expect(matched(table, 'GET', '/a/b/c')).toEqual({ key: 'GET /a/b/{y}', params: { y: 'c' } });
    expect(matched(table, 'GET', '/a/z/c')).toEqual({ key: 'GET /a/{x}/c', params: { x: 'z' } });
  });

  test('match falls back to $default when no route matches and returns none without it', () => {
    const routes = [route('GET', '/only')];
    expect(RouteTable.compile(routes).match('GET', '/other').kind).toBe('none');
    const withDefault = RouteTable.compile([...routes, route('ANY', '$default')]);
    expect(matched(withDefault, 'DELETE', '/other')).toEqual({ key: '$default', params: {} });
    expect(matched(withDefault, 'GET', '/only')?.key).toBe('GET /only');
  });

  test('match ignores a method the route does not name when no ANY route exists', () => {
    const table = RouteTable.compile([route('GET', '/x')]);
    expect(table.match('POST', '/x').kind).toBe('none');
  });

  test('match needs at least one segment for a greedy parameter when the path is the root', () => {
    const table = RouteTable.compile([route('ANY', '/{proxy+}')]);
    expect(table.match('GET', '/').kind).toBe('none');
    expect(matched(table, 'GET', '/a')).toEqual({ key: 'ANY /{proxy+}', params: { proxy: 'a' } });
    const root = RouteTable.compile([route('GET', '/')]);
    expect(matched(root, 'GET', '/')?.key).toBe('GET /');
  });

  test('match ignores a trailing slash and decodes parameters when the path has escapes', () => {
    const table = RouteTable.compile([route('GET', '/files/{name}'), route('GET', '/static/{path+}')]);
    expect(matched(table, 'GET', '/files/a%20b/')).toEqual({ key: 'GET /files/{name}', params: { name: 'a b' } });
    expect(matched(table, 'GET', '/static/css/site%2Bx.css')).toEqual({ key: 'GET /static/{path+}', params: { path: 'css/site+x.css' } });
    expect(matched(table, 'GET', '/files/%E0%A4%A')).toEqual({ key: 'GET /files/{name}', params: { name: '%E0%A4%A' } });
  });

  test('match does not match a parameter to an empty segment when the path has a double slash', () => {
    const table = RouteTable.compile([route('GET', '/a/{x}/b')]);
    expect(table.match('GET', '/a//b').kind).toBe('none');
  });

  test('match keeps a parameter named __proto__ as a plain key when a route names it', () => {
    const table = RouteTable.compile([route('GET', '/p/{__proto__}')]);
    const m = matched(table, 'GET', '/p/v');
    expect(Object.keys(m?.params ?? {})).toEqual(['__proto__']);
    expect(Object.getOwnPropertyDescriptor(m?.params, '__proto__')?.value).toBe('v');
  });

  test('routes lists routes in matching order with $default last', () => {
    const table = RouteTable.compile([route('ANY', '$default'), route('GET', '/{p+}'), route('GET', '/a/{id}'), route('ANY', '/a/b'), route('GET', '/a/b')]);
    expect(table.routes().map((r) => r.routeKey)).toEqual(['GET /a/b', 'ANY /a/b', 'GET /a/{id}', 'GET /{p+}', '$default']);
  });
});
