/**
 * The permission model, as pure functions: what an action is, how token scopes, resource policies
 * and execution roles grant it, and why a request was denied. The router holds the stores and
 * calls {@link decide}; nothing here reads state.
 *
 * The rules, in the order they are applied:
 * 1. A user's token scopes must include the action (a scoped token narrows, never widens).
 * 2. A role principal (a function acting through its execution role) must have a role statement
 *    allowing the action on the resource: default deny, a function without a role can do nothing.
 * 3. Administrators may then do anything; within one tenant anything is allowed.
 * 4. Across tenants, the resource's policy must have a statement naming the caller (its principal,
 *    its tenant, or `*`; an event source by kind and source pattern).
 */
import { StratusError } from './errors';
import { principalName, type Principal } from './identity';

/** Kinds of resource an action applies to. */
export const RESOURCE_KINDS = ['function', 'layer', 'table', 'bucket', 'subject', 'role', 'token', 'usage', 'cluster'] as const;
export type ResourceKind = (typeof RESOURCE_KINDS)[number];

/** Every action, as "kind:verb". */
export const ACTIONS = [
  'function:read',
  'function:write',
  'function:invoke',
  'layer:read',
  'layer:write',
  'table:read',
  'table:write',
  'bucket:read',
  'bucket:write',
  'subject:publish',
  'role:read',
  'role:write',
  'token:read',
  'token:write',
  'usage:read',
  'cluster:read',
] as const;
export type Action = (typeof ACTIONS)[number];

/** Actions a resource policy may grant, per resource kind. */
export const POLICY_ACTIONS: Readonly<Partial<Record<ResourceKind, readonly Action[]>>> = {
  function: ['function:read', 'function:write', 'function:invoke'],
  layer: ['layer:read'],
};

/** Lambda's action names, accepted wherever an action is written. */
const LAMBDA_ACTIONS: Readonly<Record<string, string>> = {
  'lambda:invokefunction': 'function:invoke',
  'lambda:invokefunctionurl': 'function:invoke',
  'lambda:getfunction': 'function:read',
  'lambda:getfunctionconfiguration': 'function:read',
  'lambda:getpolicy': 'function:read',
  'lambda:updatefunctioncode': 'function:write',
  'lambda:updatefunctionconfiguration': 'function:write',
  'lambda:getlayerversion': 'layer:read',
  'lambda:*': 'function:*',
};

/**
 * An action pattern as users write it, normalized: "function:invoke", "function:*", "*:read", "*",
 * or a Lambda name ("lambda:InvokeFunction"). InvalidRequest names the accepted forms.
 */
export function normalizeActionPattern(written: string): string {
  const text = written.trim();
  const lambda = LAMBDA_ACTIONS[text.toLowerCase()];
  if (lambda) return lambda;
  if (text === '*') return text;
  const m = /^([a-z*]+):([a-z*]+)$/.exec(text);
  const kindOk = m && (m[1] === '*' || (RESOURCE_KINDS as readonly string[]).includes(m[1] ?? ''));
  const verbOk = m && (m[2] === '*' || ACTIONS.some((a) => a.endsWith(`:${m[2]}`)));
  if (!m || !kindOk || !verbOk) {
    throw new StratusError('InvalidRequest', `action '${written}': write kind:verb (one of ${ACTIONS.join(', ')}), with * for any kind or verb, or a Lambda name such as lambda:InvokeFunction`);
  }
  return text;
}

/** True when `pattern` (normalized) covers `action`. */
export function actionMatches(pattern: string, action: Action): boolean {
  if (pattern === '*' || pattern === action) return true;
  const [pk, pv] = pattern.split(':');
  const [ak, av] = action.split(':');
  return (pk === '*' || pk === ak) && (pv === '*' || pv === av);
}

/**
 * True when `name` matches `pattern`: for subjects, NATS wildcards (`*` one token, `>` the rest);
 * for every other kind, `*` stands for any run of characters.
 */
export function resourceNameMatches(kind: ResourceKind, pattern: string, name: string): boolean {
  if (pattern === '*' || pattern === name) return true;
  if (kind === 'subject') return subjectMatches(pattern, name);
  const re = new RegExp(`^${pattern.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
  return re.test(name);
}

/** NATS subject matching of a concrete subject against a pattern. */
export function subjectMatches(pattern: string, subject: string): boolean {
  const p = pattern.split('.');
  const s = subject.split('.');
  for (let i = 0; i < p.length; i += 1) {
    if (p[i] === '>') return s.length > i;
    if (i >= s.length) return false;
    if (p[i] !== '*' && p[i] !== s[i]) return false;
  }
  return p.length === s.length;
}

/** A resource a request acts on; `tenant` is its owner (undefined for subjects, which no tenant owns). */
export interface ResourceRef {
  kind: ResourceKind;
  name: string;
  tenant: string | undefined;
}

/** One statement of a resource policy (Lambda's AddPermission shape). */
export interface PolicyStatement {
  /** Unique within the policy; RemovePermission takes it. */
  sid: string;
  /** Normalized action patterns granted. */
  actions: string[];
  /**
   * Who: "*" (every authenticated principal), "acme" (every principal of tenant acme), "acme/alice",
   * "acme/role/worker", or an event source kind ("subject", "schedule", "route", "mapping", "destination").
   */
  principal: string;
  /** For an event source principal: the sources allowed (a subject pattern, a schedule id…); empty means any. */
  source: string;
  /** For an event source principal: only sources owned by this tenant; empty means any tenant. */
  sourceTenant: string;
}

/** One statement of an execution role: these actions on these resources ("function:orders-*", "subject:orders.>", "table:users"). */
export interface RoleStatement {
  actions: string[];
  resources: string[];
}

/** An execution role: what a function may do through the platform. */
export interface RoleDocument {
  tenant: string;
  name: string;
  description: string;
  statements: RoleStatement[];
  createdMs: number;
  updatedMs: number;
}

const SOURCE_PRINCIPALS: ReadonlySet<string> = new Set(['subject', 'schedule', 'route', 'mapping', 'destination']);

/** Parses and checks a policy statement as a caller wrote it. */
export function normalizeStatement(kind: ResourceKind, input: { sid: string; actions: string[]; principal: string; source?: string; sourceTenant?: string }): PolicyStatement {
  const sid = input.sid.trim();
  if (!/^[A-Za-z0-9_-]{1,100}$/.test(sid)) throw new StratusError('InvalidRequest', `statement id '${input.sid}': use 1-100 letters, digits, '-' or '_'`);
  const allowed = POLICY_ACTIONS[kind] ?? [];
  if (input.actions.length === 0) throw new StratusError('InvalidRequest', `statement '${sid}' grants no action: give at least one of ${allowed.join(', ')}`);
  const actions = input.actions.map(normalizeActionPattern);
  for (const a of actions) {
    if (!allowed.some((x) => actionMatches(a, x))) throw new StratusError('InvalidRequest', `a ${kind} policy cannot grant '${a}': it grants ${allowed.join(', ')}`);
  }
  const principal = input.principal.trim();
  const isSource = SOURCE_PRINCIPALS.has(principal);
  if (!isSource && principal !== '*' && !/^[a-z0-9][a-z0-9_-]{0,62}(\/(role\/)?[a-z0-9][a-z0-9_-]{0,62})?$/.test(principal)) {
    throw new StratusError('InvalidRequest', `principal '${input.principal}': write a tenant (acme), a principal (acme/alice), a role (acme/role/worker), * or an event source (subject, schedule, route, mapping, destination)`);
  }
  const source = (input.source ?? '').trim();
  const sourceTenant = (input.sourceTenant ?? '').trim();
  if (!isSource && (source || sourceTenant)) throw new StratusError('InvalidRequest', `--source and --source-tenant apply to event source principals (subject, schedule, route, mapping, destination), not '${principal}'`);
  return { sid, actions, principal, source, sourceTenant };
}

/** Whether statement `s` names principal `p`. */
function statementNames(s: PolicyStatement, kind: ResourceKind, p: Principal): boolean {
  if (s.principal === '*') return true;
  if (p.kind === 'source') {
    if (s.principal === p.tenant) return true;
    if (s.principal !== p.source) return false;
    if (s.sourceTenant && s.sourceTenant !== p.tenant) return false;
    return !s.source || resourceNameMatches(p.source === 'subject' ? 'subject' : kind, s.source, p.name);
  }
  return s.principal === p.tenant || s.principal === principalName(p);
}

/** What {@link decide} concluded: allowed, or denied with the reason and the fix. */
export type Decision = { allowed: true } | { allowed: false; reason: string; fix: string };

const ALLOW: Decision = { allowed: true };

/**
 * Decides whether `caller` may do `action` on `resource`, given the resource's policy and, for a
 * role principal, its role (undefined when the function's role does not exist).
 */
export function decide(caller: Principal, action: Action, resource: ResourceRef, policy: readonly PolicyStatement[], role: RoleDocument | undefined): Decision {
  const who = principalName(caller);
  const what = `${action} on ${resource.kind} '${resource.name}'`;
  if (caller.kind === 'user' && !caller.scopes.some((s) => actionMatches(s, action))) {
    return { allowed: false, reason: `the token of ${who} is scoped to ${caller.scopes.join(', ')}, which does not include ${action}`, fix: `use a token whose scope includes ${action} (stratus auth create-token --scope ${action})` };
  }
  if (caller.kind === 'role') {
    const grants = role?.statements.some((st) => st.actions.some((a) => actionMatches(a, action)) && st.resources.some((r) => roleResourceMatches(r, resource)));
    if (!grants) {
      const allow = `--allow ${action}=${resource.kind}:${resource.name}`;
      if (!caller.role) {
        return { allowed: false, reason: `function '${caller.functionName}' has no execution role, so it may not ${what}`, fix: `give it one: stratus roles put <role> ${allow}, then stratus deploy ${caller.functionName} <folder> --role <role>` };
      }
      const fix = role ? `allow it in role '${caller.role}': stratus roles put ${caller.role} ${allow}` : `create role '${caller.role}' in tenant ${caller.tenant} (stratus roles put ${caller.role} ${allow})`;
      return { allowed: false, reason: role ? `role '${caller.role}' of function '${caller.functionName}' does not allow ${what}` : `function '${caller.functionName}' has role '${caller.role}', which does not exist`, fix };
    }
  }
  if (caller.kind === 'user' && caller.admin) return ALLOW;
  if (resource.tenant === undefined || resource.tenant === caller.tenant) return ALLOW;
  if (policy.some((s) => s.actions.some((a) => actionMatches(a, action)) && statementNames(s, resource.kind, caller))) return ALLOW;
  const grantee = caller.kind === 'source' ? `${caller.source} --source '${caller.name}'` : who;
  return {
    allowed: false,
    reason: `${who} (tenant ${caller.tenant}) may not ${action} on ${resource.kind} '${resource.name}' of tenant ${resource.tenant}`,
    fix: POLICY_ACTIONS[resource.kind]
      ? `its owner can grant it: stratus permissions add ${resource.kind === 'layer' ? '--layer ' : ''}${resource.name} --principal ${grantee} --action ${action}`
      : `only tenant ${resource.tenant} may use it`,
  };
}

function roleResourceMatches(written: string, resource: ResourceRef): boolean {
  if (written === '*') return true;
  const at = written.indexOf(':');
  const kind = written.slice(0, at);
  const name = written.slice(at + 1);
  return (kind === '*' || kind === resource.kind) && resourceNameMatches(resource.kind, name, resource.name);
}

/** Parses "kind:name" role resources ("function:orders-*", "subject:orders.>", "table:users", "*"). */
export function normalizeRoleResource(written: string): string {
  const text = written.trim();
  if (text === '*') return text;
  const at = text.indexOf(':');
  const kind = text.slice(0, at);
  if (at <= 0 || at === text.length - 1 || !(kind === '*' || (RESOURCE_KINDS as readonly string[]).includes(kind))) {
    throw new StratusError('InvalidRequest', `role resource '${written}': write kind:name, e.g. function:orders-*, subject:orders.>, table:users or bucket:uploads (kinds: ${RESOURCE_KINDS.join(', ')})`);
  }
  return text;
}

/** Throws AccessDenied for a denial, with the reason and the fix in the message. */
export function requireAllowed(decision: Decision): void {
  if (!decision.allowed) throw new StratusError('AccessDenied', `${decision.reason}: ${decision.fix}`);
}
