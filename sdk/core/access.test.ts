import { actionMatches, decide, normalizeActionPattern, normalizeRoleResource, normalizeStatement, resourceNameMatches, subjectMatches, type PolicyStatement, type RoleDocument } from './access';
import type { Principal } from './identity';

const alice: Principal = { kind: 'user', tenant: 'a', name: 'alice', admin: false, scopes: ['*'], tokenId: 't1' };
const bob: Principal = { kind: 'user', tenant: 'b', name: 'bob', admin: false, scopes: ['*'], tokenId: 't2' };
const root: Principal = { kind: 'user', tenant: 'default', name: 'admin', admin: true, scopes: ['*'], tokenId: 'env' };
const fnA = { kind: 'function' as const, name: 'orders', tenant: 'a' };

function statement(principal: string, actions = ['function:invoke'], source = '', sourceTenant = ''): PolicyStatement {
  return { sid: 's', actions, principal, source, sourceTenant };
}

function role(statements: RoleDocument['statements']): RoleDocument {
  return { tenant: 'a', name: 'worker', description: '', statements, createdMs: 0, updatedMs: 0 };
}

describe('actions and names', () => {
  test('action patterns match by kind and verb, with wildcards', () => {
    expect(actionMatches('*', 'function:invoke')).toBe(true);
    expect(actionMatches('function:*', 'function:write')).toBe(true);
    expect(actionMatches('*:read', 'table:read')).toBe(true);
    expect(actionMatches('*:read', 'table:write')).toBe(false);
    expect(actionMatches('function:invoke', 'function:read')).toBe(false);
  });

  test('Lambda action names are accepted; unknown ones are refused with the forms that work', () => {
    expect(normalizeActionPattern('lambda:InvokeFunction')).toBe('function:invoke');
    expect(normalizeActionPattern(' function:read ')).toBe('function:read');
    expect(() => normalizeActionPattern('function:explode')).toThrow(/kind:verb/);
    expect(() => normalizeActionPattern('invoke')).toThrow(/lambda:InvokeFunction/);
  });

  test('subjects match as NATS does; other names by * globs', () => {
    expect(subjectMatches('orders.*', 'orders.created')).toBe(true);
    expect(subjectMatches('orders.*', 'orders.created.eu')).toBe(false);
    expect(subjectMatches('orders.>', 'orders.created.eu')).toBe(true);
    expect(subjectMatches('orders.>', 'orders')).toBe(false);
    expect(resourceNameMatches('function', 'orders-*', 'orders-eu')).toBe(true);
    expect(resourceNameMatches('function', 'orders-*', 'billing')).toBe(false);
    expect(resourceNameMatches('function', 'a.b', 'aXb')).toBe(false);
  });

  test('role resources are kind:name', () => {
    expect(normalizeRoleResource('function:orders-*')).toBe('function:orders-*');
    expect(normalizeRoleResource('*')).toBe('*');
    expect(() => normalizeRoleResource('orders')).toThrow(/kind:name/);
    expect(() => normalizeRoleResource('planet:earth')).toThrow(/kinds:/);
  });

  test('policy statements grant only what the resource kind has, and sources only to event sources', () => {
    expect(normalizeStatement('function', { sid: 'x', actions: ['lambda:InvokeFunction'], principal: 'b/bob' })).toEqual({ sid: 'x', actions: ['function:invoke'], principal: 'b/bob', source: '', sourceTenant: '' });
    expect(() => normalizeStatement('function', { sid: 'x', actions: ['table:read'], principal: 'b' })).toThrow(/cannot grant/);
    expect(() => normalizeStatement('function', { sid: 'x', actions: ['function:invoke'], principal: 'b', source: 'orders.*' })).toThrow(/event source principals/);
    expect(() => normalizeStatement('function', { sid: 'x', actions: ['function:invoke'], principal: 'Not A Principal' })).toThrow(/principal/);
    expect(() => normalizeStatement('function', { sid: 'bad sid', actions: ['function:invoke'], principal: 'b' })).toThrow(/statement id/);
  });
});

describe('decide', () => {
  test('within a tenant anything is allowed; across tenants nothing, unless a statement names the caller', () => {
    expect(decide(alice, 'function:write', fnA, [], undefined).allowed).toBe(true);
    const no = decide(bob, 'function:invoke', fnA, [], undefined);
    expect(no).toMatchObject({ allowed: false });
    expect(!no.allowed && no.fix).toContain('stratus permissions add orders --principal b/bob --action function:invoke');
    expect(decide(bob, 'function:invoke', fnA, [statement('b/bob')], undefined).allowed).toBe(true);
    expect(decide(bob, 'function:invoke', fnA, [statement('b')], undefined).allowed).toBe(true);
    expect(decide(bob, 'function:invoke', fnA, [statement('*')], undefined).allowed).toBe(true);
    expect(decide(bob, 'function:invoke', fnA, [statement('b/carol')], undefined).allowed).toBe(false);
    expect(decide(bob, 'function:read', fnA, [statement('b/bob')], undefined).allowed).toBe(false);
  });

  test('administrators may do anything, within their token scope', () => {
    expect(decide(root, 'function:write', fnA, [], undefined).allowed).toBe(true);
    expect(decide({ ...root, scopes: ['*:read'] }, 'function:write', fnA, [], undefined).allowed).toBe(false);
  });

  test('a scoped token narrows even its own tenant', () => {
    const ci: Principal = { ...alice, scopes: ['function:invoke'] };
    expect(decide(ci, 'function:invoke', fnA, [], undefined).allowed).toBe(true);
    const d = decide(ci, 'function:write', fnA, [], undefined);
    expect(!d.allowed && d.reason).toContain('scoped to function:invoke');
  });

  test('a role principal needs a role statement, default deny, and a policy across tenants on top', () => {
    const worker: Principal = { kind: 'role', tenant: 'a', role: 'worker', functionName: 'w', depth: 1, requestId: 'r' };
    const target = { kind: 'function' as const, name: 'billing', tenant: 'a' };
    expect(decide(worker, 'function:invoke', target, [], undefined)).toMatchObject({ allowed: false });
    expect(decide({ ...worker, role: '' }, 'function:invoke', target, [], undefined)).toMatchObject({ allowed: false, reason: expect.stringContaining('no execution role') });
    const r = role([{ actions: ['function:invoke'], resources: ['function:bill*'] }]);
    expect(decide(worker, 'function:invoke', target, [], r).allowed).toBe(true);
    expect(decide(worker, 'function:write', target, [], r).allowed).toBe(false);
    expect(decide(worker, 'function:invoke', { ...target, name: 'orders' }, [], r).allowed).toBe(false);
    const foreign = { ...target, tenant: 'b' };
    expect(decide(worker, 'function:invoke', foreign, [], r).allowed).toBe(false);
    expect(decide(worker, 'function:invoke', foreign, [statement('a/role/worker')], r).allowed).toBe(true);
    const pub = role([{ actions: ['subject:publish'], resources: ['subject:orders.>'] }]);
    expect(decide(worker, 'subject:publish', { kind: 'subject', name: 'orders.created.eu', tenant: undefined }, [], pub).allowed).toBe(true);
    expect(decide(worker, 'subject:publish', { kind: 'subject', name: 'audit.x', tenant: undefined }, [], pub).allowed).toBe(false);
  });

  test('event sources invoke on their tenant\'s behalf: a statement for their kind, source pattern and tenant lets them in', () => {
    const trigger: Principal = { kind: 'source', source: 'subject', name: 'b.orders.created', tenant: 'b', depth: 1 };
    expect(decide(trigger, 'function:invoke', fnA, [], undefined).allowed).toBe(false);
    expect(decide(trigger, 'function:invoke', fnA, [statement('subject', ['function:invoke'], 'b.orders.*')], undefined).allowed).toBe(true);
    expect(decide(trigger, 'function:invoke', fnA, [statement('subject', ['function:invoke'], 'b.audit.*')], undefined).allowed).toBe(false);
    expect(decide(trigger, 'function:invoke', fnA, [statement('subject', ['function:invoke'], 'b.orders.*', 'c')], undefined).allowed).toBe(false);
    expect(decide(trigger, 'function:invoke', fnA, [statement('schedule')], undefined).allowed).toBe(false);
    expect(decide(trigger, 'function:invoke', fnA, [statement('b')], undefined).allowed).toBe(true);
    expect(decide({ ...trigger, tenant: 'a' }, 'function:invoke', fnA, [], undefined).allowed).toBe(true);
  });
});
