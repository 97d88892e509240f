import { pastaArgs, prohibitRoutes } from './sandbox-network';

describe('prohibitRoutes', () => {
  test('one prohibit route per range, loopback and duplicates left out', () => {
    expect(prohibitRoutes(['10.0.0.5/32', '127.0.0.1/32', '::1/128', 'fd00::2/128', '10.0.0.5/32', '169.254.0.0/16'])).toEqual([
      'route add prohibit 10.0.0.5/32',
      'route add prohibit fd00::2/128',
      'route add prohibit 169.254.0.0/16',
    ]);
  });

  test('a range that is not an address is refused with what to write', () => {
    expect(() => prohibitRoutes(['nats.internal/32'])).toThrow(/not an IPv4 or IPv6 range: write denied sandbox destinations as CIDRs/);
  });
});

describe('pastaArgs', () => {
  test('forwards only the named ports from the sandbox to the host, nothing inwards, no gateway mapping', () => {
    const args = pastaArgs(42, [{ inside: 9001, host: 40123 }], [4222]);
    const value = (flag: string): string | undefined => args[args.indexOf(flag) + 1];
    expect(value('--tcp-ns')).toBe('9001:40123,4222');
    expect(value('--tcp-ports')).toBe('none');
    expect(value('--udp-ports')).toBe('none');
    expect(value('--udp-ns')).toBe('none');
    expect(args).toContain('--no-map-gw');
    expect(args).toContain('--foreground');
    expect(args[args.length - 1]).toBe('42');
  });

  test('no forwards at all is none, not an empty list', () => {
    const args = pastaArgs(42, [], []);
    expect(args[args.indexOf('--tcp-ns') + 1]).toBe('none');
  });
});
