import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { StratusError } from '../../sdk/core/errors';
import type { RolePrincipal } from '../../sdk/core/identity';
import type { AuthStore } from './auth-store';

/** What one invocation's credentials say. */
export interface SessionClaims {
  tenant: string;
  role: string;
  functionName: string;
  depth: number;
  requestId: string;
  /** Epoch ms after which the credentials are refused. */
  expiresMs: number;
}

const PREFIX = 'sts1.';
const KEY = 'signing-key';

/**
 * Short-lived credentials for a function's execution role, minted per invocation (Lambda hands an
 * instance its role's temporary AWS_* credentials; ours also carry the call chain's depth, which is
 * how the recursion guard counts hops through the API). A token is `sts1.<claims>.<hmac>`, signed
 * with a key every router shares through the identity bucket, so any router verifies any other's.
 * They expire with the invocation's deadline plus a margin and cannot be revoked one by one:
 * removing a permission from the role takes effect at once, as decisions read the role.
 */
export class SessionTokens {
  private constructor(private readonly key: Buffer) {}

  /** Reads the cluster's signing key, creating it on the cluster's first start-up (one router wins the create). */
  static async open(store: AuthStore): Promise<SessionTokens> {
    const fresh = { key: randomBytes(32).toString('base64') };
    await store.create(KEY, fresh);
    const held = await store.get<{ key: string }>(KEY);
    if (!held) throw new StratusError('ServiceUnavailable', 'the session signing key could not be read from the identity bucket: check NATS and restart the router');
    return new SessionTokens(Buffer.from(held.key, 'base64'));
  }

  mint(claims: SessionClaims): string {
    const body = Buffer.from(JSON.stringify([claims.tenant, claims.role, claims.functionName, claims.depth, claims.requestId, claims.expiresMs])).toString('base64url');
    return `${PREFIX}${body}.${this.sign(body)}`;
  }

  /** True when `token` looks like session credentials (so other token kinds are not tried). */
  static looksLike(token: string): boolean {
    return token.startsWith(PREFIX);
  }

  /** The role principal the credentials stand for; Unauthenticated when forged or expired. */
  verify(token: string, now = Date.now()): RolePrincipal {
    const [body = '', mac = ''] = token.slice(PREFIX.length).split('.');
    const expected = Buffer.from(this.sign(body));
    const given = Buffer.from(mac);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw new StratusError('Unauthenticated', 'the function credentials are not valid: use the STRATUS_TOKEN the invocation was given');
    }
    const [tenant, role, functionName, depth, requestId, expiresMs] = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as [string, string, string, number, string, number];
    if (expiresMs <= now) throw new StratusError('Unauthenticated', `the function credentials of invocation ${requestId} expired: they last only as long as the invocation that received them`);
    return { kind: 'role', tenant, role, functionName, depth, requestId };
  }

  private sign(body: string): string {
    return createHmac('sha256', this.key).update(body).digest('base64url');
  }
}
