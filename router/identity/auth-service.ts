import type { AuthServiceServer, Identity, Role, TokenInfo } from '../../proto/gen/stratus/v1/auth';
import { normalizeActionPattern, normalizeRoleResource, type RoleDocument } from '../../sdk/core/access';
import { StratusError } from '../../sdk/core/errors';
import { validateIdentityName, type Principal, type UserPrincipal } from '../../sdk/core/identity';
import { unary, type HandlerContext } from '../grpc-handler';
import type { TokenRecord, TokenStore } from '../auth/tokens';

function tokenToPb(t: TokenRecord): TokenInfo {
  return { id: t.id, tenant: t.tenant, principal: t.principal, admin: t.admin, scopes: t.scopes, description: t.description, createdMs: t.createdMs, expiresMs: t.expiresMs, createdBy: t.createdBy };
}

function roleToPb(r: RoleDocument): Role {
  return { tenant: r.tenant, name: r.name, description: r.description, statements: r.statements, createdMs: r.createdMs, updatedMs: r.updatedMs };
}

function identityToPb(p: Principal): Identity {
  const base = { tenant: p.tenant, admin: false, scopes: [] as string[], tokenId: '', functionName: '', depth: 0 };
  if (p.kind === 'user') return { ...base, kind: 'user', name: p.name, admin: p.admin, scopes: [...p.scopes], tokenId: p.tokenId };
  if (p.kind === 'role') return { ...base, kind: 'role', name: p.role, functionName: p.functionName, depth: p.depth };
  return { ...base, kind: 'source', name: `${p.source}:${p.name}`, depth: p.depth };
}

/** Token management is for people: a function's role credentials cannot mint tokens. */
function requireUser(caller: Principal, what: string): UserPrincipal {
  if (caller.kind !== 'user') throw new StratusError('AccessDenied', `function credentials may not ${what}: use an API token`);
  return caller;
}

/** The tenant a request names, which a non-administrator may only name as its own. */
function tenantFor(caller: Principal, requested: string): string {
  const tenant = requested || caller.tenant;
  validateIdentityName('tenant', tenant);
  if (tenant !== caller.tenant && !(caller.kind === 'user' && caller.admin)) {
    throw new StratusError('AccessDenied', `${caller.tenant} principals may not act in tenant ${tenant}: only administrators may`);
  }
  return tenant;
}

/** AuthService: who am I, API tokens, execution roles. */
export function createAuthService(ctx: HandlerContext, tokens: TokenStore): AuthServiceServer {
  const { access } = ctx;
  const self = (caller: Principal) => ({ kind: 'token' as const, name: '*', tenant: caller.tenant });
  return {
    whoAmI: unary(ctx, 'stratus.AuthService/WhoAmI', async (_req, _span, caller) => identityToPb(caller)),
    createToken: unary(ctx, 'stratus.AuthService/CreateToken', async (req, _span, caller) => {
      const user = requireUser(caller, 'create tokens');
      await access.authorize(user, 'token:write', { ...self(user), tenant: req.tenant || user.tenant });
      const { token, record } = await tokens.create(user, { tenant: req.tenant, principal: req.principal, admin: req.admin, scopes: req.scopes, description: req.description, ttlMs: req.ttlSeconds * 1000 });
      ctx.logger.info('token created', { id: record.id, tenant: record.tenant, principal: record.principal, admin: record.admin, by: record.createdBy });
      return { token, info: tokenToPb(record) };
    }),
    listTokens: unary(ctx, 'stratus.AuthService/ListTokens', async (req, _span, caller) => {
      const user = requireUser(caller, 'list tokens');
      await access.authorize(user, 'token:read', { ...self(user), tenant: req.tenant || user.tenant });
      return { tokens: (await tokens.list(user, req.tenant)).map(tokenToPb) };
    }),
    revokeToken: unary(ctx, 'stratus.AuthService/RevokeToken', async (req, _span, caller) => {
      const user = requireUser(caller, 'revoke tokens');
      await access.authorize(user, 'token:write', self(user));
      const record = await tokens.revoke(user, req.id);
      ctx.logger.info('token revoked', { id: record.id, tenant: record.tenant, principal: record.principal, by: `${user.tenant}/${user.name}` });
      return tokenToPb(record);
    }),
    putRole: unary(ctx, 'stratus.AuthService/PutRole', async (req, _span, caller) => {
      const name = validateIdentityName('role', req.name);
      await access.authorize(caller, 'role:write', { kind: 'role', name, tenant: caller.tenant });
      if (req.statements.length === 0) throw new StratusError('InvalidRequest', `role '${name}' has no statement: give at least one --allow action=resource (a role with none allows nothing, which is what no role does)`);
      const statements = req.statements.map((st) => {
        if (st.actions.length === 0 || st.resources.length === 0) throw new StratusError('InvalidRequest', `every statement of role '${name}' needs at least one action and one resource`);
        return { actions: st.actions.map(normalizeActionPattern), resources: st.resources.map(normalizeRoleResource) };
      });
      return roleToPb(await access.putRole({ tenant: caller.tenant, name, description: req.description, statements }));
    }),
    getRole: unary(ctx, 'stratus.AuthService/GetRole', async (req, _span, caller) => {
      const tenant = tenantFor(caller, req.tenant);
      const name = validateIdentityName('role', req.name);
      await access.authorize(caller, 'role:read', { kind: 'role', name, tenant });
      const role = await access.role(tenant, name);
      if (!role) throw new StratusError('ResourceNotFound', `role '${name}' does not exist in tenant ${tenant}: list roles with stratus roles ls`);
      return roleToPb(role);
    }),
    listRoles: unary(ctx, 'stratus.AuthService/ListRoles', async (req, _span, caller) => {
      const admin = caller.kind === 'user' && caller.admin;
      const tenant = req.tenant ? tenantFor(caller, req.tenant) : admin ? undefined : caller.tenant;
      await access.authorize(caller, 'role:read', { kind: 'role', name: '*', tenant: tenant ?? caller.tenant });
      return { roles: (await access.roles(tenant)).map(roleToPb) };
    }),
    deleteRole: unary(ctx, 'stratus.AuthService/DeleteRole', async (req, _span, caller) => {
      const name = validateIdentityName('role', req.name);
      await access.authorize(caller, 'role:write', { kind: 'role', name, tenant: caller.tenant });
      await access.deleteRole(caller.tenant, name);
      return {};
    }),
  };
}
