import { StratusError } from '../../sdk/core/errors';
import { LATEST, validateFunctionName, type FunctionRecord } from '../../sdk/core/function-config';
import type { FunctionCache } from './function-cache';

/**
 * The function record an invocation runs: FunctionNotFound for unknown names and for qualifiers
 * other than $LATEST. Every entry point that invokes resolves its target here.
 */
export async function resolveInvokeTarget(cache: FunctionCache, rawName: string, rawQualifier: string): Promise<FunctionRecord> {
  const name = validateFunctionName(rawName);
  const qualifier = rawQualifier || LATEST;
  const record = await cache.get(name);
  if (!record) throw new StratusError('FunctionNotFound', `function '${name}' does not exist: deploy it first (stratus deploy ${name} <folder>) or check the name with stratus ls`);
  if (qualifier !== LATEST) throw new StratusError('FunctionNotFound', `function '${name}' has no version or alias '${qualifier}': invoke $LATEST or publish a version`);
  return record;
}
