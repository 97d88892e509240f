import type {
  AuthServiceClient,
  CreateTokenResponse,
  Identity as IdentityPb,
  ListRolesResponse,
  ListTokensResponse,
  Policy as PolicyPb,
  PolicyServiceClient,
  PolicyStatement as PolicyStatementPb,
  Role as RolePb,
  TokenInfo as TokenInfoPb,
} from '../../proto/gen/stratus/v1/auth';
import type { UnaryCaller } from './router-transport';

/** Who a token stands for (client.auth.whoAmI). */
export interface Identity {
  /** "user" for an API token, "role" for a function's execution-role credentials. */
  kind: string;
  tenant: string;
  name: string;
  admin: boolean;
  scopes: string[];
  tokenId: string;
  functionName: string;
  depth: number;
}

/** An API token's record; the token itself is shown only by createToken. */
export interface TokenInfo {
  id: string;
  tenant: string;
  principal: string;
  admin: boolean;
  scopes: string[];
  description: string;
  created: Date;
  /** Undefined: never expires. */
  expires: Date | undefined;
  createdBy: string;
}

/** What to create a token for. */
export interface CreateTokenOptions {
  /** Default: the caller's tenant (only administrators name another). */
  tenant?: string;
  principal: string;
  admin?: boolean;
  /** Action patterns ("function:invoke", "*:read"); default everything the tenant may do. */
  scopes?: string[];
  description?: string;
  /** Default: never expires. */
  ttlSeconds?: number;
}

/** One statement of an execution role. */
export interface RoleStatement {
  actions: string[];
  resources: string[];
}

/** An execution role: what a function may do through the platform. */
export interface RoleInfo {
  tenant: string;
  name: string;
  description: string;
  statements: RoleStatement[];
  created: Date;
  updated: Date;
}

/** One statement of a resource policy (Lambda's AddPermission). */
export interface PolicyStatement {
  sid: string;
  actions: string[];
  /** "*", a tenant, "tenant/principal", "tenant/role/name", or an event source kind (subject, schedule, route, mapping, destination). */
  principal: string;
  /** For an event source: which sources (subject pattern, schedule id, "GET /path", "table:users"...). */
  source?: string;
  /** For an event source: only sources owned by this tenant. */
  sourceTenant?: string;
}

/** A resource's policy. */
export interface PolicyInfo {
  resourceKind: string;
  resourceName: string;
  tenant: string;
  statements: PolicyStatement[];
}

function identityFromPb(i: IdentityPb): Identity {
  return { kind: i.kind, tenant: i.tenant, name: i.name, admin: i.admin, scopes: i.scopes, tokenId: i.tokenId, functionName: i.functionName, depth: i.depth };
}

function tokenFromPb(t: TokenInfoPb | undefined): TokenInfo {
  return {
    id: t?.id ?? '',
    tenant: t?.tenant ?? '',
    principal: t?.principal ?? '',
    admin: t?.admin ?? false,
    scopes: t?.scopes ?? [],
    description: t?.description ?? '',
    created: new Date(t?.createdMs ?? 0),
    expires: t?.expiresMs ? new Date(t.expiresMs) : undefined,
    createdBy: t?.createdBy ?? '',
  };
}

function roleFromPb(r: RolePb): RoleInfo {
  return { tenant: r.tenant, name: r.name, description: r.description, statements: r.statements.map((s) => ({ actions: s.actions, resources: s.resources })), created: new Date(r.createdMs), updated: new Date(r.updatedMs) };
}

function statementFromPb(s: PolicyStatementPb): PolicyStatement {
  return { sid: s.sid, actions: s.actions, principal: s.principal, source: s.source || undefined, sourceTenant: s.sourceTenant || undefined };
}

/** Identity and permissions (client.auth): tokens, execution roles, resource policies. */
export class AuthClient {
  constructor(private readonly call: UnaryCaller<{ auth: AuthServiceClient; policies: PolicyServiceClient }>) {}

  async whoAmI(): Promise<Identity> {
    return identityFromPb(await this.call<IdentityPb>('read', 'WhoAmI', (s, md, opts, cb) => s.auth.whoAmI({}, md, opts, cb)));
  }

  /** Creates a token and returns it with its record: store it now, it is never shown again. */
  async createToken(options: CreateTokenOptions): Promise<{ token: string; info: TokenInfo }> {
    const res = await this.call<CreateTokenResponse>('write', 'CreateToken', (s, md, opts, cb) =>
      s.auth.createToken({ tenant: options.tenant ?? '', principal: options.principal, admin: options.admin ?? false, scopes: options.scopes ?? [], description: options.description ?? '', ttlSeconds: options.ttlSeconds ?? 0 }, md, opts, cb),
    );
    return { token: res.token, info: tokenFromPb(res.info) };
  }

  async listTokens(tenant = ''): Promise<TokenInfo[]> {
    return (await this.call<ListTokensResponse>('read', 'ListTokens', (s, md, opts, cb) => s.auth.listTokens({ tenant }, md, opts, cb))).tokens.map(tokenFromPb);
  }

  /** Revokes a token by id: every router refuses it within milliseconds. */
  async revokeToken(id: string): Promise<TokenInfo> {
    return tokenFromPb(await this.call<TokenInfoPb>('write', 'RevokeToken', (s, md, opts, cb) => s.auth.revokeToken({ id }, md, opts, cb)));
  }

  /** Creates or replaces an execution role of the caller's tenant. */
  async putRole(name: string, statements: RoleStatement[], description = ''): Promise<RoleInfo> {
    return roleFromPb(await this.call<RolePb>('write', 'PutRole', (s, md, opts, cb) => s.auth.putRole({ name, description, statements }, md, opts, cb)));
  }

  async getRole(name: string, tenant = ''): Promise<RoleInfo> {
    return roleFromPb(await this.call<RolePb>('read', 'GetRole', (s, md, opts, cb) => s.auth.getRole({ name, tenant }, md, opts, cb)));
  }

  async listRoles(tenant = ''): Promise<RoleInfo[]> {
    return (await this.call<ListRolesResponse>('read', 'ListRoles', (s, md, opts, cb) => s.auth.listRoles({ tenant }, md, opts, cb))).roles.map(roleFromPb);
  }

  async deleteRole(name: string): Promise<void> {
    await this.call('write', 'DeleteRole', (s, md, opts, cb) => s.auth.deleteRole({ name }, md, opts, cb));
  }

  /** Adds a statement to a function's (or layer's) resource policy. */
  async addPermission(resourceName: string, statement: PolicyStatement, resourceKind: 'function' | 'layer' = 'function'): Promise<PolicyStatement> {
    const pb: PolicyStatementPb = { sid: statement.sid, actions: statement.actions, principal: statement.principal, source: statement.source ?? '', sourceTenant: statement.sourceTenant ?? '' };
    return statementFromPb(await this.call<PolicyStatementPb>('write', 'AddPermission', (s, md, opts, cb) => s.policies.addPermission({ resourceKind, resourceName, statement: pb }, md, opts, cb)));
  }

  async removePermission(resourceName: string, sid: string, resourceKind: 'function' | 'layer' = 'function'): Promise<void> {
    await this.call('write', 'RemovePermission', (s, md, opts, cb) => s.policies.removePermission({ resourceKind, resourceName, sid }, md, opts, cb));
  }

  async getPolicy(resourceName: string, resourceKind: 'function' | 'layer' = 'function'): Promise<PolicyInfo> {
    const p = await this.call<PolicyPb>('read', 'GetPolicy', (s, md, opts, cb) => s.policies.getPolicy({ resourceKind, resourceName }, md, opts, cb));
    return { resourceKind: p.resourceKind, resourceName: p.resourceName, tenant: p.tenant, statements: p.statements.map(statementFromPb) };
  }
}
