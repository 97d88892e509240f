import type { Command } from 'commander';
import type { TokenInfo } from '../../client/auth-client';
import { StratusError } from '../../core/errors';
import type { CliContext } from '../context';

type Run = (action: (ctx: CliContext) => Promise<number | void>) => Promise<void>;

/** "30d", "12h", "90m", "3600s" or plain seconds → seconds; undefined for no expiry. */
export function parseLifetime(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const m = /^(\d+)([smhd]?)$/.exec(value.trim());
  if (!m) throw new StratusError('InvalidRequest', `--expires ${value}: write a number of seconds, or with a unit: 90m, 12h, 30d`);
  const unit = { '': 1, s: 1, m: 60, h: 3600, d: 86_400 }[m[2] as '' | 's' | 'm' | 'h' | 'd'];
  return Number(m[1]) * unit;
}

function list(value: string | undefined): string[] {
  return (value ?? '').split(',').map((s) => s.trim()).filter(Boolean);
}

function tokenRows(tokens: TokenInfo[]): Array<Array<string | number>> {
  return tokens.map((t) => [t.id, t.tenant, t.principal, t.admin ? 'yes' : '', t.scopes.join(','), t.created.toISOString(), t.expires ? t.expires.toISOString() : 'never', t.description || '-']);
}

/** `stratus auth whoami|create-token|tokens|revoke`: API tokens, each for a principal in a tenant. */
export function registerAuthCommands(program: Command, run: Run): void {
  const auth = program.command('auth').description('API tokens: who may call the cluster, in which tenant, with which scope');
  auth
    .command('whoami')
    .description('show the tenant, principal and scope of the token in use')
    .action(() =>
      run(async ({ out, client }) => {
        const me = await (await client()).auth.whoAmI();
        if (out.json) return out.printJson(me);
        out.line(`${me.tenant}/${me.name}${me.admin ? ' (administrator)' : ''}, scope ${me.scopes.join(', ') || '-'}, token ${me.tokenId || '-'}`);
      }),
    );
  auth
    .command('create-token <principal>')
    .description('create a token for a principal (shown once: store it now)')
    .option('--tenant <tenant>', 'the tenant (default: yours; administrators may name any, which creates it)')
    .option('--scope <actions>', 'comma-separated action patterns the token may use, e.g. function:invoke,*:read (default: all)')
    .option('--admin', 'an administrator token: acts in every tenant (administrators only)')
    .option('--expires <lifetime>', 'lifetime: 90m, 12h, 30d (default: never)')
    .option('--description <text>', 'what the token is for')
    .action((principal: string, flags: { tenant?: string; scope?: string; admin?: boolean; expires?: string; description?: string }) =>
      run(async ({ out, client }) => {
        const { token, info } = await (await client()).auth.createToken({ principal, tenant: flags.tenant, scopes: list(flags.scope), admin: flags.admin, ttlSeconds: parseLifetime(flags.expires), description: flags.description });
        if (out.json) return out.printJson({ token, ...info });
        out.line(token);
        out.note(`token ${info.id} for ${info.tenant}/${info.principal}, scope ${info.scopes.join(', ')}${info.expires ? `, expires ${info.expires.toISOString()}` : ''}: it is not shown again; use it with --token or STRATUS_TOKEN`);
      }),
    );
  auth
    .command('tokens')
    .description('list tokens (ids only; the tokens themselves are never stored)')
    .option('--tenant <tenant>', 'only this tenant (administrators see every tenant by default)')
    .action((flags: { tenant?: string }) =>
      run(async ({ out, client }) => {
        const tokens = await (await client()).auth.listTokens(flags.tenant ?? '');
        if (out.json) return out.printJson(tokens);
        if (tokens.length === 0) return out.note('no tokens: create one with stratus auth create-token <principal>');
        out.printTable(['ID', 'TENANT', 'PRINCIPAL', 'ADMIN', 'SCOPE', 'CREATED', 'EXPIRES', 'DESCRIPTION'], tokenRows(tokens));
      }),
    );
  auth
    .command('revoke <id>')
    .description('revoke a token: every router refuses it at once')
    .action((id: string) =>
      run(async ({ out, client }) => {
        const t = await (await client()).auth.revokeToken(id);
        if (out.json) return out.printJson(t);
        out.line(`revoked token ${t.id} of ${t.tenant}/${t.principal}`);
      }),
    );
}

/** "function:invoke=function:orders-*" → one role statement. */
export function parseAllow(value: string): { actions: string[]; resources: string[] } {
  const eq = value.indexOf('=');
  if (eq <= 0 || eq === value.length - 1) throw new StratusError('InvalidRequest', `--allow ${value}: write action[,action]=resource[,resource], e.g. function:invoke=function:orders-* or subject:publish=subject:orders.>`);
  return { actions: list(value.slice(0, eq)), resources: list(value.slice(eq + 1)) };
}

/** `stratus roles put|get|ls|rm`: execution roles, what functions may do through the platform. */
export function registerRoleCommands(program: Command, run: Run): void {
  const roles = program.command('roles').description('execution roles: what a function may do through the platform (default: nothing)');
  roles
    .command('put <name>')
    .description('create or replace a role of your tenant')
    .requiredOption('--allow <action=resource...>', 'a statement, e.g. function:invoke=function:billing or table:read,table:write=table:orders (repeat for several)')
    .option('--description <text>', 'what the role is for')
    .action((name: string, flags: { allow: string[]; description?: string }) =>
      run(async ({ out, client }) => {
        const role = await (await client()).auth.putRole(name, flags.allow.map(parseAllow), flags.description);
        if (out.json) return out.printJson(role);
        out.line(`role ${role.tenant}/${role.name}: ${role.statements.map((s) => `${s.actions.join(',')} on ${s.resources.join(',')}`).join('; ')}; give it to a function with stratus deploy <fn> <folder> --role ${role.name}`);
      }),
    );
  roles
    .command('get <name>')
    .description("show a role's statements")
    .option('--tenant <tenant>', "another tenant's role (administrators)")
    .action((name: string, flags: { tenant?: string }) =>
      run(async ({ out, client }) => {
        const role = await (await client()).auth.getRole(name, flags.tenant ?? '');
        if (out.json) return out.printJson(role);
        out.printTable(['ACTIONS', 'RESOURCES'], role.statements.map((s) => [s.actions.join(', '), s.resources.join(', ')]));
      }),
    );
  roles
    .command('ls')
    .description('list roles')
    .option('--tenant <tenant>', 'only this tenant')
    .action((flags: { tenant?: string }) =>
      run(async ({ out, client }) => {
        const all = await (await client()).auth.listRoles(flags.tenant ?? '');
        if (out.json) return out.printJson(all);
        if (all.length === 0) return out.note('no roles: create one with stratus roles put <name> --allow action=resource');
        out.printTable(['TENANT', 'NAME', 'STATEMENTS', 'DESCRIPTION', 'UPDATED'], all.map((r) => [r.tenant, r.name, r.statements.map((s) => `${s.actions.join(',')}=${s.resources.join(',')}`).join(' '), r.description || '-', r.updated.toISOString()]));
      }),
    );
  roles
    .command('rm <name>')
    .description('delete a role: functions that have it can do nothing from their next call on')
    .action((name: string) =>
      run(async ({ out, client }) => {
        await (await client()).auth.deleteRole(name);
        if (out.json) return out.printJson({ deleted: name });
        out.line(`deleted role ${name}`);
      }),
    );
}

/** `stratus permissions add|rm|ls`: resource policies on functions and layers. */
export function registerPermissionCommands(program: Command, run: Run): void {
  const perms = program.command('permissions').description("resource policies: who else may invoke, read or manage a function, or use a layer");
  perms
    .command('add <name>')
    .description("grant a principal, tenant or event source an action on a function (or --layer)")
    .requiredOption('--principal <who>', 'a tenant (acme), a principal (acme/alice), a role (acme/role/worker), * or an event source: subject, schedule, route, mapping, destination')
    .option('--action <actions>', 'comma-separated: function:invoke (default), function:read, function:write; layer:read for layers', 'function:invoke')
    .option('--source <pattern>', 'for an event source: which ones (subject pattern orders.*, schedule id, "GET /path", table:users)')
    .option('--source-tenant <tenant>', "for an event source: only that tenant's")
    .option('--sid <id>', 'statement id (default: generated)')
    .option('--layer', 'the name is a layer, not a function')
    .action((name: string, flags: { principal: string; action: string; source?: string; sourceTenant?: string; sid?: string; layer?: boolean }) =>
      run(async ({ out, client }) => {
        const actions = list(flags.action === 'function:invoke' && flags.layer ? 'layer:read' : flags.action);
        const sid = flags.sid ?? `${flags.principal.replace(/[^A-Za-z0-9_-]/g, '-')}-${Date.now().toString(36)}`;
        const st = await (await client()).auth.addPermission(name, { sid, actions, principal: flags.principal, source: flags.source, sourceTenant: flags.sourceTenant }, flags.layer ? 'layer' : 'function');
        if (out.json) return out.printJson(st);
        out.line(`added statement ${st.sid}: ${st.principal}${st.source ? ` (${st.source})` : ''} may ${st.actions.join(', ')} on ${name}`);
      }),
    );
  perms
    .command('rm <name> <sid>')
    .description('remove a statement')
    .option('--layer', 'the name is a layer, not a function')
    .action((name: string, sid: string, flags: { layer?: boolean }) =>
      run(async ({ out, client }) => {
        await (await client()).auth.removePermission(name, sid, flags.layer ? 'layer' : 'function');
        if (out.json) return out.printJson({ removed: sid });
        out.line(`removed statement ${sid} from ${name}`);
      }),
    );
  perms
    .command('ls <name>')
    .description("show a function's (or --layer's) policy")
    .option('--layer', 'the name is a layer, not a function')
    .action((name: string, flags: { layer?: boolean }) =>
      run(async ({ out, client }) => {
        const policy = await (await client()).auth.getPolicy(name, flags.layer ? 'layer' : 'function');
        if (out.json) return out.printJson(policy);
        if (policy.statements.length === 0) return out.note(`${name} (tenant ${policy.tenant}) has no statements: only its own tenant may use it; grant others with stratus permissions add`);
        out.printTable(['SID', 'PRINCIPAL', 'ACTIONS', 'SOURCE', 'SOURCE TENANT'], policy.statements.map((s) => [s.sid, s.principal, s.actions.join(', '), s.source ?? '-', s.sourceTenant ?? '-']));
      }),
    );
}
