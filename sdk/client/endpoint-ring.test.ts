import { EndpointRing } from './endpoint-ring';

describe('EndpointRing', () => {
  test('EndpointRing starts at the first router when created', () => {
    expect(new EndpointRing(['a:1', 'b:2', 'c:3']).current()).toBe('a:1');
  });

  test('EndpointRing moves to the next router when the current one is skipped', () => {
    const ring = new EndpointRing(['a:1', 'b:2', 'c:3']);
    ring.skip();
    expect(ring.current()).toBe('b:2');
  });

  test('EndpointRing wraps to the first router when the last one is skipped', () => {
    const ring = new EndpointRing(['a:1', 'b:2']);
    ring.skip();
    ring.skip();
    expect(ring.current()).toBe('a:1');
  });

  test('EndpointRing keeps the router it moved to when nothing more is skipped', () => {
    const ring = new EndpointRing(['a:1', 'b:2', 'c:3']);
    ring.skip();
    expect([ring.current(), ring.current()]).toEqual(['b:2', 'b:2']);
  });

  test('EndpointRing stays on the only router when it has one', () => {
    const ring = new EndpointRing(['a:1']);
    ring.skip();
    expect(ring.current()).toBe('a:1');
    expect(ring.size).toBe(1);
  });
});
