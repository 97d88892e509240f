import type { RouterHeartbeat } from './router-heartbeat';
import { RouterView } from './router-view';

function hb(routerId: string, over: Partial<RouterHeartbeat> = {}): RouterHeartbeat {
  return { routerId, address: `${routerId}:50051`, httpPort: 8080, state: 'ready', agents: 2, seq: 1, bootId: 'b1', startedAtMs: 0, sentAtMs: 0, intervalMs: 1000, ...over };
}

test('RouterView lists every router that announced itself when heartbeats are fresh', () => {
  const view = new RouterView({ missedHeartbeats: 3, maxRouters: 10, now: () => 0 });
  view.apply(hb('r2'));
  view.apply(hb('r1'));
  expect(view.routers().map((r) => r.hb.routerId)).toEqual(['r1', 'r2']);
});

test('RouterView drops a router when its heartbeats stop for the missed intervals', () => {
  let now = 0;
  const view = new RouterView({ missedHeartbeats: 3, maxRouters: 10, now: () => now });
  view.apply(hb('r1'));
  now = 2999;
  expect(view.routers()).toHaveLength(1);
  now = 3001;
  expect(view.routers()).toHaveLength(0);
});

test('RouterView drops a router at once when it says it is stopping and ignores older heartbeats', () => {
  const view = new RouterView({ missedHeartbeats: 3, maxRouters: 10, now: () => 0 });
  view.apply(hb('r1', { seq: 5 }));
  view.apply(hb('r1', { seq: 4, agents: 9 }));
  expect(view.routers()[0]?.hb.agents).toBe(2);
  view.apply(hb('r1', { seq: 6, state: 'stopping' }));
  expect(view.routers()).toHaveLength(0);
  // A restarted router (new boot) comes back.
  view.apply(hb('r1', { seq: 1, bootId: 'b2' }));
  expect(view.routers()).toHaveLength(1);
});

test('RouterView ignores and counts routers beyond its limit when it is full', () => {
  const view = new RouterView({ missedHeartbeats: 3, maxRouters: 1, now: () => 0 });
  view.apply(hb('r1'));
  view.apply(hb('r2'));
  expect(view.routers().map((r) => r.hb.routerId)).toEqual(['r1']);
  expect(view.dropped).toBe(1);
});
