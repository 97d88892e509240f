import type { PolicyServiceServer, PolicyStatement as PolicyStatementPb } from '../../proto/gen/stratus/v1/auth';
import type { Action, PolicyStatement, ResourceKind, ResourceRef } from '../../sdk/core/access';
import { StratusError } from '../../sdk/core/errors';
import { validateFunctionName } from '../../sdk/core/function-config';
import { tenantOf } from '../../sdk/core/identity';
import type { FunctionRegistry } from '../functions/function-registry';
import { validateLayerName } from '../functions/layer-registry';
import { unary, type HandlerContext } from '../grpc-handler';

function statementToPb(s: PolicyStatement): PolicyStatementPb {
  return { sid: s.sid, actions: s.actions, principal: s.principal, source: s.source, sourceTenant: s.sourceTenant };
}

/**
 * PolicyService: resource policies on functions and layers (Lambda's AddPermission,
 * RemovePermission, GetPolicy). Changing a policy is managing the resource (function:write,
 * layer:write); reading it is reading the resource.
 */
export function createPolicyService(ctx: HandlerContext, functions: FunctionRegistry): PolicyServiceServer {
  const { access } = ctx;
  const resolve = async (kindWritten: string, name: string): Promise<ResourceRef & { kind: ResourceKind }> => {
    const kind = kindWritten || 'function';
    if (kind === 'function') {
      const record = await functions.get(validateFunctionName(name));
      if (!record) throw new StratusError('FunctionNotFound', `function '${name}' does not exist: check the name with stratus ls`);
      return { kind, name, tenant: tenantOf(record) };
    }
    if (kind === 'layer') return { kind, name: validateLayerName(name), tenant: await access.ownerOf('layer', name) };
    throw new StratusError('InvalidRequest', `resource kind '${kindWritten}': policies are kept on functions and layers`);
  };
  const write = (r: ResourceRef): Action => (r.kind === 'layer' ? 'layer:write' : 'function:write');
  const read = (r: ResourceRef): Action => (r.kind === 'layer' ? 'layer:read' : 'function:read');
  return {
    addPermission: unary(ctx, 'stratus.PolicyService/AddPermission', async (req, _span, caller) => {
      const resource = await resolve(req.resourceKind, req.resourceName);
      await access.authorize(caller, write(resource), resource);
      const st = req.statement;
      if (!st) throw new StratusError('InvalidRequest', 'no statement: give a principal and an action');
      return statementToPb(await access.addPermission(resource.kind, resource.name, { sid: st.sid, actions: st.actions, principal: st.principal, source: st.source, sourceTenant: st.sourceTenant }));
    }),
    removePermission: unary(ctx, 'stratus.PolicyService/RemovePermission', async (req, _span, caller) => {
      const resource = await resolve(req.resourceKind, req.resourceName);
      await access.authorize(caller, write(resource), resource);
      await access.removePermission(resource.kind, resource.name, req.sid);
      return {};
    }),
    getPolicy: unary(ctx, 'stratus.PolicyService/GetPolicy', async (req, _span, caller) => {
      const resource = await resolve(req.resourceKind, req.resourceName);
      await access.authorize(caller, read(resource), resource);
      return { resourceKind: resource.kind, resourceName: resource.name, tenant: resource.tenant ?? '', statements: (await access.policy(resource.kind, resource.name)).map(statementToPb) };
    }),
  };
}
