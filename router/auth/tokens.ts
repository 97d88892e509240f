import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { StratusError } from '../../sdk/core/errors';
import { DEFAULT_TENANT, validateIdentityName, type UserPrincipal } from '../../sdk/core/identity';
import { normalizeActionPattern } from '../../sdk/core/access';
import type { AuthStore } from './auth-store';

/** An API token as stored: never the token itself, only its hash. */
export interface TokenRecord {
  id: string;
  tenant: string;
  principal: string;
  admin: boolean;
  scopes: string[];
  /** Hex sha256 of the whole token. Tokens are 256-bit random, so a fast hash is enough. */
  sha256: string;
  description: string;
  createdMs: number;
  /** 0: never expires. */
  expiresMs: number;
  /** Who created it ("tenant/name"). */
  createdBy: string;
}

/** What a caller asks for when creating a token. */
export interface TokenRequest {
  tenant: string;
  principal: string;
  admin: boolean;
  scopes: string[];
  description: string;
  /** 0: never expires. */
  ttlMs: number;
}

const TOKEN_PATTERN = /^stx_([a-z0-9]{12})_([A-Za-z0-9_-]{43})$/;

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function sameHex(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && timingSafeEqual(x, y);
}

function tokenKey(id: string): string {
  return `token.${id}`;
}

/** The bootstrap administrator every STRATUS_API_TOKENS token acts as. */
export const BOOTSTRAP_ADMIN: UserPrincipal = { kind: 'user', tenant: DEFAULT_TENANT, name: 'admin', admin: true, scopes: ['*'], tokenId: 'env' };

/**
 * API tokens: `stx_<id>_<secret>`. The id is public (listings, revocation, logs); the record holds
 * the sha256 of the whole token, so neither the bucket nor a log ever holds a usable token.
 */
export class TokenStore {
  private readonly bootstrap: string[];

  constructor(
    private readonly store: AuthStore,
    /** STRATUS_API_TOKENS: administrator tokens from the environment, never stored. */
    bootstrapTokens: readonly string[],
  ) {
    this.bootstrap = bootstrapTokens.map(sha256);
  }

  /** The principal a bearer token stands for; Unauthenticated when it is unknown, revoked or expired. */
  async principalFor(token: string): Promise<UserPrincipal> {
    const hash = sha256(token);
    if (this.bootstrap.some((h) => sameHex(h, hash))) return BOOTSTRAP_ADMIN;
    const m = TOKEN_PATTERN.exec(token);
    const record = m ? await this.store.get<TokenRecord>(tokenKey(m[1] ?? '')) : undefined;
    if (!record || !sameHex(record.sha256, hash)) throw new StratusError('Unauthenticated', 'the bearer token is not valid here (unknown or revoked): pass a token with --token, STRATUS_TOKEN or the profile written by stratus dev');
    if (record.expiresMs > 0 && record.expiresMs <= Date.now()) {
      throw new StratusError('Unauthenticated', `token ${record.id} expired at ${new Date(record.expiresMs).toISOString()}: ask for a new one (stratus auth create-token)`);
    }
    return { kind: 'user', tenant: record.tenant, name: record.principal, admin: record.admin, scopes: record.scopes, tokenId: record.id };
  }

  /**
   * Creates a token for `req` on behalf of `creator` and returns it with its record; the token is
   * shown once and never again. Non-administrators may create tokens only in their own tenant, with
   * no more scope than their own, and never administrator tokens.
   */
  async create(creator: UserPrincipal, req: TokenRequest): Promise<{ token: string; record: TokenRecord }> {
    const tenant = validateIdentityName('tenant', req.tenant || creator.tenant);
    const principal = validateIdentityName('principal', req.principal);
    const scopes = req.scopes.length > 0 ? req.scopes.map(normalizeActionPattern) : ['*'];
    if (!creator.admin) {
      if (req.admin) throw new StratusError('AccessDenied', `${creator.tenant}/${creator.name} may not create administrator tokens: ask an administrator`);
      if (tenant !== creator.tenant) throw new StratusError('AccessDenied', `${creator.tenant}/${creator.name} may not create tokens in tenant ${tenant}: only administrators create tokens for other tenants`);
      if (!creator.scopes.includes('*')) {
        const wider = scopes.filter((s) => !creator.scopes.includes(s));
        if (wider.length > 0) throw new StratusError('AccessDenied', `a token may not get scope ${wider.join(', ')}, which the creating token (scoped to ${creator.scopes.join(', ')}) lacks: narrow --scope`);
      }
    }
    if (req.ttlMs < 0) throw new StratusError('InvalidRequest', 'a token lifetime must be 0 (no expiry) or positive');
    for (let attempt = 0; attempt < 5; attempt += 1) {
      const id = randomBytes(9).toString('base64url').toLowerCase().replace(/[^a-z0-9]/g, '0').slice(0, 12).padEnd(12, '0');
      const token = `stx_${id}_${randomBytes(32).toString('base64url')}`;
      const now = Date.now();
      const record: TokenRecord = {
        id,
        tenant,
        principal,
        admin: req.admin,
        scopes,
        sha256: sha256(token),
        description: req.description,
        createdMs: now,
        expiresMs: req.ttlMs > 0 ? now + req.ttlMs : 0,
        createdBy: `${creator.tenant}/${creator.name}`,
      };
      if (await this.store.create(tokenKey(id), record)) return { token, record };
    }
    throw new StratusError('Internal', 'could not pick an unused token id: retry');
  }

  /** Tokens visible to `caller`: all for administrators, its tenant's otherwise. */
  async list(caller: UserPrincipal, tenant: string): Promise<TokenRecord[]> {
    const all = await this.store.list<TokenRecord>('token.*');
    const wanted = caller.admin ? tenant : caller.tenant;
    if (!caller.admin && tenant && tenant !== caller.tenant) throw new StratusError('AccessDenied', `${caller.tenant}/${caller.name} may not list tokens of tenant ${tenant}`);
    return all.filter((t) => !wanted || t.tenant === wanted).sort((a, b) => a.tenant.localeCompare(b.tenant) || a.principal.localeCompare(b.principal) || a.createdMs - b.createdMs);
  }

  /** Revokes token `id`: at once on every router (their mirrors drop it within milliseconds). */
  async revoke(caller: UserPrincipal, id: string): Promise<TokenRecord> {
    const record = await this.store.get<TokenRecord>(tokenKey(id));
    if (!record) throw new StratusError('ResourceNotFound', `token ${id} does not exist: list tokens with stratus auth tokens`);
    if (!caller.admin && record.tenant !== caller.tenant) throw new StratusError('AccessDenied', `${caller.tenant}/${caller.name} may not revoke tokens of tenant ${record.tenant}`);
    await this.store.delete(tokenKey(id));
    return record;
  }
}
