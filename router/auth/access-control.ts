import { randomUUID } from 'node:crypto';
import { decide, normalizeStatement, requireAllowed, type Action, type Decision, type PolicyStatement, type ResourceKind, type ResourceRef, type RoleDocument } from '../../sdk/core/access';
import { StratusError } from '../../sdk/core/errors';
import { DEFAULT_TENANT, principalName, type Principal } from '../../sdk/core/identity';
import type { AuthStore } from './auth-store';

/** A resource's policy as stored. */
export interface StoredPolicy {
  statements: PolicyStatement[];
  revisionId: string;
}

/** Kinds whose owner is kept in the identity bucket (functions carry theirs in the record). */
export type OwnedKind = 'layer' | 'table' | 'bucket' | 'trigger' | 'schedule' | 'mapping' | 'route';

const policyKey = (kind: ResourceKind, name: string): string => `policy.${kind}.${name}`;
const ownerKey = (kind: OwnedKind, name: string): string => `owner.${kind}.${name.replace(/[^A-Za-z0-9_-]/g, (c) => `~${c.charCodeAt(0).toString(16)}`)}`;
const roleKey = (tenant: string, name: string): string => `role.${tenant}.${name}`;

/**
 * Every authorization decision of the router: loads what {@link decide} needs (the resource's
 * policy, the caller's role) from the identity store and throws AccessDenied naming the missing
 * permission. Also keeps resource policies, roles and the owners of resources other than functions.
 */
export class AccessControl {
  constructor(private readonly store: AuthStore) {}

  /** Throws AccessDenied unless `caller` may do `action` on `resource`. */
  async authorize(caller: Principal, action: Action, resource: ResourceRef): Promise<void> {
    requireAllowed(await this.check(caller, action, resource));
  }

  /** The decision, without throwing. */
  async check(caller: Principal, action: Action, resource: ResourceRef): Promise<Decision> {
    const sameTenant = resource.tenant === undefined || resource.tenant === caller.tenant;
    const policy = sameTenant || !this.hasPolicy(resource.kind) ? [] : await this.policy(resource.kind, resource.name);
    const role = caller.kind === 'role' && caller.role ? await this.store.get<RoleDocument>(roleKey(caller.tenant, caller.role)) : undefined;
    return decide(caller, action, resource, policy, role);
  }

  /**
   * The decision from what this router holds in memory, without reading NATS: for filtering
   * listings and for per-event checks of event sources, where a miss (a change a few ms old) is
   * decided on the next event.
   */
  checkNow(caller: Principal, action: Action, resource: ResourceRef): Decision {
    const policy = this.store.peek<StoredPolicy>(policyKey(resource.kind, resource.name))?.statements ?? [];
    const role = caller.kind === 'role' ? this.store.peek<RoleDocument>(roleKey(caller.tenant, caller.role)) : undefined;
    return decide(caller, action, resource, policy, role);
  }

  private hasPolicy(kind: ResourceKind): boolean {
    return kind === 'function' || kind === 'layer';
  }

  async policy(kind: ResourceKind, name: string): Promise<PolicyStatement[]> {
    return (await this.store.get<StoredPolicy>(policyKey(kind, name)))?.statements ?? [];
  }

  /** Lambda's AddPermission: adds a statement; ResourceConflict when its sid is taken. */
  async addPermission(kind: ResourceKind, name: string, input: Parameters<typeof normalizeStatement>[1]): Promise<PolicyStatement> {
    const statement = normalizeStatement(kind, input);
    await this.store.update<StoredPolicy>(policyKey(kind, name), (cur) => {
      const statements = cur?.statements ?? [];
      if (statements.some((s) => s.sid === statement.sid)) {
        throw new StratusError('ResourceConflict', `${kind} '${name}' already has a statement '${statement.sid}': remove it first (stratus permissions rm ${name} ${statement.sid}) or pick another --sid`);
      }
      if (statements.length >= 100) throw new StratusError('InvalidRequest', `${kind} '${name}' has 100 statements, the most a policy holds: grant a tenant or * instead of principals one by one`);
      return { statements: [...statements, statement], revisionId: randomUUID() };
    });
    return statement;
  }

  /** Lambda's RemovePermission; ResourceNotFound when no statement has that sid. */
  async removePermission(kind: ResourceKind, name: string, sid: string): Promise<void> {
    await this.store.update<StoredPolicy>(policyKey(kind, name), (cur) => {
      const statements = cur?.statements ?? [];
      if (!statements.some((s) => s.sid === sid)) throw new StratusError('ResourceNotFound', `${kind} '${name}' has no statement '${sid}': list them with stratus permissions ls ${name}`);
      const left = statements.filter((s) => s.sid !== sid);
      return left.length > 0 ? { statements: left, revisionId: randomUUID() } : undefined;
    });
  }

  /** Drops a deleted resource's policy, so a later resource of the same name does not inherit it. */
  async dropPolicy(kind: ResourceKind, name: string): Promise<void> {
    await this.store.delete(policyKey(kind, name));
  }

  /** The tenant owning a resource kept outside the function registry; resources from before tenants belong to the default tenant. */
  async ownerOf(kind: OwnedKind, name: string): Promise<string> {
    return (await this.store.get<{ tenant: string }>(ownerKey(kind, name)))?.tenant ?? DEFAULT_TENANT;
  }

  /** Like {@link ownerOf}, from memory only (listings, hot paths). */
  ownerNow(kind: OwnedKind, name: string): string {
    return this.store.peek<{ tenant: string }>(ownerKey(kind, name))?.tenant ?? DEFAULT_TENANT;
  }

  /** The owner this router holds in memory, or undefined when it holds none (yet). */
  ownerIfKnown(kind: OwnedKind, name: string): string | undefined {
    return this.store.peek<{ tenant: string }>(ownerKey(kind, name))?.tenant;
  }

  /**
   * Records `tenant` as the owner of a new resource. A resource already owned by another tenant
   * stays theirs: AccessDenied (names are cluster-wide, as S3 bucket names are).
   */
  async claim(kind: OwnedKind, name: string, tenant: string): Promise<void> {
    if (await this.store.create(ownerKey(kind, name), { tenant })) return;
    const owner = await this.ownerOf(kind, name);
    if (owner !== tenant) throw new StratusError('AccessDenied', `${kind} '${name}' belongs to another tenant: names are shared by the whole cluster, pick another name`);
  }

  /** Forgets the owner of a deleted resource. */
  async release(kind: OwnedKind, name: string): Promise<void> {
    await this.store.delete(ownerKey(kind, name));
  }

  async role(tenant: string, name: string): Promise<RoleDocument | undefined> {
    return this.store.get<RoleDocument>(roleKey(tenant, name));
  }

  async roles(tenant: string | undefined): Promise<RoleDocument[]> {
    return (await this.store.list<RoleDocument>(tenant ? `role.${tenant}.*` : 'role.*.*')).sort((a, b) => a.tenant.localeCompare(b.tenant) || a.name.localeCompare(b.name));
  }

  async putRole(doc: Omit<RoleDocument, 'createdMs' | 'updatedMs'>): Promise<RoleDocument> {
    const now = Date.now();
    const stored = await this.store.update<RoleDocument>(roleKey(doc.tenant, doc.name), (cur) => ({ ...doc, createdMs: cur?.createdMs ?? now, updatedMs: now }));
    return stored!;
  }

  async deleteRole(tenant: string, name: string): Promise<void> {
    if (!(await this.role(tenant, name))) throw new StratusError('ResourceNotFound', `role '${name}' does not exist in tenant ${tenant}: list roles with stratus roles ls`);
    await this.store.delete(roleKey(tenant, name));
  }
}

/** A denial's message for logs and dead letters, naming the principal. */
export function deniedReason(caller: Principal, decision: Decision): string {
  return decision.allowed ? '' : `${decision.reason}: ${decision.fix} (${principalName(caller)})`;
}
