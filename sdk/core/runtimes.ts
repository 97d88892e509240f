import { StratusError } from './errors';

/** The runtimes Stratus runs. */
export type RuntimeName = 'nodejs' | 'python' | 'provided';

/** Lambda's runtime identifiers accepted as aliases of ours. */
const ALIASES: Readonly<Record<string, RuntimeName>> = {
  nodejs: 'nodejs',
  'nodejs18.x': 'nodejs',
  'nodejs20.x': 'nodejs',
  'nodejs22.x': 'nodejs',
  'nodejs24.x': 'nodejs',
  python: 'python',
  'python3.9': 'python',
  'python3.10': 'python',
  'python3.11': 'python',
  'python3.12': 'python',
  'python3.13': 'python',
  provided: 'provided',
  'provided.al2': 'provided',
  'provided.al2023': 'provided',
};

/** Resolves a runtime name or Lambda alias to ours, or throws InvalidRequest naming the choices. */
export function resolveRuntime(name: string): RuntimeName {
  const resolved = ALIASES[name.trim().toLowerCase()];
  if (!resolved) {
    throw new StratusError(
      'InvalidRequest',
      `unknown runtime '${name}': use nodejs, python or provided (Lambda names such as nodejs20.x, python3.11 and provided.al2023 work too)`,
    );
  }
  return resolved;
}

/** Whether a runtime needs a handler string (custom runtimes read _HANDLER only if they want). */
export function runtimeNeedsHandler(runtime: RuntimeName): boolean {
  switch (runtime) {
    case 'nodejs':
    case 'python':
      return true;
    case 'provided':
      return false;
    default: {
      const unreachable: never = runtime;
      return unreachable;
    }
  }
}
