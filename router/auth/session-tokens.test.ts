import { SessionTokens } from './session-tokens';
import type { AuthStore } from './auth-store';

/** The store's two calls SessionTokens makes, over a map (pure logic: the integration tests use NATS). */
function memoryStore(): AuthStore {
  const map = new Map<string, unknown>();
  return {
    create: async (key: string, value: unknown) => (map.has(key) ? false : (map.set(key, value), true)),
    get: async (key: string) => map.get(key),
  } as unknown as AuthStore;
}

describe('session tokens', () => {
  const claims = { tenant: 'a', role: 'worker', functionName: 'fn', depth: 3, requestId: 'r1', expiresMs: Date.now() + 60_000 };

  test('a minted token verifies to its role principal, with the chain depth', async () => {
    const tokens = await SessionTokens.open(memoryStore());
    expect(tokens.verify(tokens.mint(claims))).toEqual({ kind: 'role', tenant: 'a', role: 'worker', functionName: 'fn', depth: 3, requestId: 'r1' });
    expect(SessionTokens.looksLike(tokens.mint(claims))).toBe(true);
  });

  test('routers sharing the store share the key; another cluster\'s key does not verify', async () => {
    const store = memoryStore();
    const one = await SessionTokens.open(store);
    const two = await SessionTokens.open(store);
    expect(two.verify(one.mint(claims)).role).toBe('worker');
    const other = await SessionTokens.open(memoryStore());
    expect(() => other.verify(one.mint(claims))).toThrow(/not valid/);
  });

  test('a tampered or expired token is refused', async () => {
    const tokens = await SessionTokens.open(memoryStore());
    const token = tokens.mint(claims);
    const [prefix, body, mac] = token.split('.');
    const forged = Buffer.from(JSON.stringify(['a', 'admin', 'fn', 1, 'r1', claims.expiresMs])).toString('base64url');
    expect(() => tokens.verify(`${prefix}.${forged}.${mac}`)).toThrow(/not valid/);
    expect(() => tokens.verify(`${prefix}.${body}.`)).toThrow(/not valid/);
    expect(() => tokens.verify(tokens.mint({ ...claims, expiresMs: Date.now() - 1 }))).toThrow(/expired/);
  });
});
