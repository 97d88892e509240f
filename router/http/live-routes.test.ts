import { describeRoute, type RouteRecord } from '../../sdk/core/http-route';
import { createLogger } from '../../sdk/platform/logger';
import { LiveRoutes } from './live-routes';
import type { RouteRegistry } from './route-registry';

// apply() never touches the registry; only start() does (covered by the integration tests).
const live = (): LiveRoutes => new LiveRoutes({} as RouteRegistry, createLogger({ component: 'test' }, { level: 'error' }));

function route(path: string, functionName = 'fn'): RouteRecord {
  return { ...describeRoute({ method: 'GET', path, functionName }), createdMs: 0 };
}

describe('LiveRoutes', () => {
  test('apply keeps the newer record when changes arrive out of revision order', () => {
    const routes = live();
    const older = route('/a', 'old');
    const newer = route('/a', 'new');
    routes.apply({ kind: 'route', id: newer.id, record: newer, revision: 7 });
    routes.apply({ kind: 'route', id: older.id, record: older, revision: 5 });
    const m = routes.table().match('GET', '/a');
    expect(m.kind === 'route' && m.route.functionName).toBe('new');
  });

  test('apply does not bring a route back when an older write arrives after its delete', () => {
    const routes = live();
    const r = route('/gone');
    routes.apply({ kind: 'route', id: r.id, record: r, revision: 3 });
    routes.apply({ kind: 'route', id: r.id, record: undefined, revision: 4 });
    routes.apply({ kind: 'route', id: r.id, record: r, revision: 3 });
    expect(routes.table().match('GET', '/gone').kind).toBe('none');
    routes.apply({ kind: 'route', id: r.id, record: r, revision: 9 });
    expect(routes.table().match('GET', '/gone').kind).toBe('route');
  });

  test('apply updates function URLs by revision when a URL changes', () => {
    const routes = live();
    routes.apply({ kind: 'url', functionName: 'f', record: { functionName: 'f', auth: 'token', createdMs: 1 }, revision: 2 });
    routes.apply({ kind: 'url', functionName: 'f', record: { functionName: 'f', auth: 'none', createdMs: 1 }, revision: 3 });
    routes.apply({ kind: 'url', functionName: 'f', record: { functionName: 'f', auth: 'token', createdMs: 1 }, revision: 2 });
    expect(routes.functionUrl('f')?.auth).toBe('none');
    routes.apply({ kind: 'url', functionName: 'f', record: undefined, revision: 4 });
    expect(routes.functionUrl('f')).toBeUndefined();
  });
});
