import { consoleUrl } from './console';

describe('stratus console', () => {
  const routers = [{ routerId: 'r1', address: 'r1:50051', httpPort: 8080 }, { routerId: 'r2', address: 'r2:50051', httpPort: 9090 }];
  test("consoleUrl points at the answering router's HTTP port on the host the CLI dials", () => {
    expect(consoleUrl('10.0.0.5:50051', false, routers, 'r2')).toBe('http://10.0.0.5:9090/console');
    expect(consoleUrl('router.example:443', true, routers, 'r1')).toBe('https://router.example:8080/console');
  });
  test('consoleUrl says so when the router has no HTTP port', () => {
    expect(() => consoleUrl('h:1', false, [{ routerId: 'r', address: 'h:1', httpPort: -1 }], 'r')).toThrow(/STRATUS_HTTP_PORT=-1/);
  });
});
