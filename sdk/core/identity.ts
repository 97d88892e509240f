/**
 * Who is calling: the principals a request can act as, and the tenants (accounts) that own
 * resources. Pure types and names, shared by the router (which decides) and the SDK (which shows).
 */
import { StratusError } from './errors';

/** The tenant of records written before tenants existed, and of the bootstrap admin. */
export const DEFAULT_TENANT = 'default';

const NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;

/** Tenant and principal names: lower-case letters, digits, '-' and '_', up to 63 characters (they appear in NATS subjects). */
export function validateIdentityName(kind: 'tenant' | 'principal' | 'role', name: string): string {
  if (!NAME.test(name)) throw new StratusError('InvalidRequest', `${kind} name '${name}': use 1-63 lower-case letters, digits, '-' or '_', starting with a letter or digit`);
  return name;
}

/** The tenant owning `record`, for records that may predate tenants. */
export function tenantOf(record: { tenant?: string }): string {
  return record.tenant || DEFAULT_TENANT;
}

/** Event sources that invoke functions on their owner's behalf. */
export type SourceKind = 'subject' | 'schedule' | 'route' | 'mapping' | 'destination';

/** A person or program holding an API token. */
export interface UserPrincipal {
  kind: 'user';
  tenant: string;
  name: string;
  /** Administrators act in every tenant and manage tokens. */
  admin: boolean;
  /** Action patterns the token may use ('*' for all); what the tenant and policies allow is checked on top. */
  scopes: readonly string[];
  /** The token's public id ('env' for the bootstrap tokens of STRATUS_API_TOKENS). */
  tokenId: string;
}

/** A function instance acting through its execution role, with the credentials of one invocation. */
export interface RolePrincipal {
  kind: 'role';
  tenant: string;
  role: string;
  functionName: string;
  /** Functions in the chain so far, this one included: the recursion guard's count. */
  depth: number;
  requestId: string;
}

/** An event source (a trigger, a schedule, a route, a mapping, a destination) invoking on its owner tenant's behalf. */
export interface SourcePrincipal {
  kind: 'source';
  tenant: string;
  source: SourceKind;
  /** The subject, schedule id, "METHOD /path", mapping id or function the event came from. */
  name: string;
  depth: number;
}

export type Principal = UserPrincipal | RolePrincipal | SourcePrincipal;

/** How a principal is named in policies and messages: "tenant/name", "tenant/role/name", "subject:orders.created". */
export function principalName(p: Principal): string {
  switch (p.kind) {
    case 'user':
      return `${p.tenant}/${p.name}`;
    case 'role':
      return `${p.tenant}/role/${p.role}`;
    case 'source':
      return `${p.source}:${p.name}`;
    default: {
      const never: never = p;
      return never;
    }
  }
}

/** The chain depth an invocation started by `p` runs at (1 for a first call). */
export function depthAfter(p: Principal | undefined): number {
  return p && p.kind !== 'user' ? p.depth + 1 : 1;
}
