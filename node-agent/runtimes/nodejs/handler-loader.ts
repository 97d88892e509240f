/**
 * Resolves and loads the function's handler from `_HANDLER`, the way the Node RIC does, classifying
 * every failure with the RIC's init error types.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { RuntimeError } from './errors';

/** A user handler as exported; its arity decides between promise and callback style. */
export type UserHandler = (...args: unknown[]) => unknown;

/** The parts of a handler string such as `lib/app.handlers.get`. */
export interface HandlerName {
  /** Directory prefix including the trailing slash (`lib/`), or empty. */
  moduleRoot: string;
  /** File name without extension (`app`). */
  moduleName: string;
  /** Property path inside the module (`['handlers', 'get']`). */
  propertyPath: string[];
}

type ModuleKind = 'commonjs' | 'esm';

/**
 * Splits a handler string: the module is the text before the first dot of the last path segment, the
 * rest is a property path. `..` is refused as the RIC does, so a handler cannot climb out of the task root.
 */
export function parseHandlerName(handler: string): HandlerName {
  if (handler.includes('..')) {
    throw new RuntimeError(
      'Runtime.MalformedHandlerName',
      `'${handler}' is not a valid handler name. Use absolute paths when specifying root directories in handler names.`,
    );
  }
  const slash = handler.lastIndexOf('/');
  const moduleRoot = handler.slice(0, slash + 1);
  const base = handler.slice(slash + 1);
  const dot = base.indexOf('.');
  const moduleName = base.slice(0, dot);
  const propertyPath = base.slice(dot + 1).split('.');
  if (dot <= 0 || propertyPath.some((p) => p === '')) {
    throw new RuntimeError(
      'Runtime.MalformedHandlerName',
      `Bad handler '${handler}': expected "<file>.<export>", for example "index.handler"`,
    );
  }
  return { moduleRoot, moduleName, propertyPath };
}

/** Loads the handler module (running its init code, top-level await included) and returns the function. */
export async function loadHandler(taskRoot: string, handler: string): Promise<UserHandler> {
  const name = parseHandlerName(handler);
  const loaded = await loadModule(taskRoot, name);
  let fn: unknown = loaded;
  for (const key of name.propertyPath) {
    fn = fn === null || fn === undefined ? undefined : (fn as Record<string, unknown>)[key];
  }
  if (fn === undefined || fn === null) {
    throw new RuntimeError('Runtime.HandlerNotFound', `${handler} is undefined or not exported`);
  }
  if (typeof fn !== 'function') {
    throw new RuntimeError('Runtime.HandlerNotFound', `${handler} is not a function`);
  }
  return fn as UserHandler;
}

async function loadModule(taskRoot: string, name: HandlerName): Promise<unknown> {
  const file = resolveModuleFile(taskRoot, name);
  try {
    if (moduleKind(file) === 'esm') {
      // Stays a real import() in the CommonJS output (module node16), so ES modules and their top-level
      // await run natively; the promise settles only once that await has completed.
      return await import(pathToFileURL(file).href);
    }
    return require(file);
  } catch (err) {
    throw classifyLoadError(err);
  }
}

// Order as in the RIC: the path as given, then .js, .mjs, .cjs, then Node's own resolution (directories
// with index.js or package.json "main", and packages under the task root's node_modules).
function resolveModuleFile(taskRoot: string, name: HandlerName): string {
  const base = path.resolve(taskRoot, name.moduleRoot, name.moduleName);
  for (const candidate of [base, `${base}.js`, `${base}.mjs`, `${base}.cjs`]) {
    if (isFile(candidate)) return candidate;
  }
  const searchPaths = [path.resolve(taskRoot, name.moduleRoot), taskRoot];
  for (const request of [base, name.moduleName]) {
    try {
      return require.resolve(request, { paths: searchPaths });
    } catch {
      // Try the next form; a miss on all of them is reported below with the handler's own module name.
    }
  }
  throw new RuntimeError('Runtime.ImportModuleError', `Error: Cannot find module '${name.moduleRoot}${name.moduleName}'`);
}

function isFile(candidate: string): boolean {
  try {
    return fs.statSync(candidate).isFile();
  } catch {
    return false;
  }
}

function moduleKind(file: string): ModuleKind {
  const ext = path.extname(file);
  if (ext === '.mjs') return 'esm';
  if (ext === '.js') return nearestPackageIsModule(path.dirname(file)) ? 'esm' : 'commonjs';
  return 'commonjs';
}

// Mirrors Node's own rule for .js (nearest package.json "type"), stopping at node_modules as the RIC
// does; disagreeing with Node here would make require() fail with ERR_REQUIRE_ESM.
function nearestPackageIsModule(dir: string): boolean {
  for (let current = dir; ; current = path.dirname(current)) {
    if (path.basename(current) === 'node_modules') return false;
    const pkgPath = path.join(current, 'package.json');
    if (fs.existsSync(pkgPath)) {
      try {
        const pkg: unknown = JSON.parse(fs.readFileSync(pkgPath, 'utf8'));
        return typeof pkg === 'object' && pkg !== null && (pkg as { type?: unknown }).type === 'module';
      } catch (err) {
        console.warn(`${pkgPath} cannot be read, it will be ignored for ES module detection purposes.`, err);
        return false;
      }
    }
    if (path.dirname(current) === current) return false;
  }
}

function classifyLoadError(err: unknown): unknown {
  if (err instanceof SyntaxError) {
    return new RuntimeError('Runtime.UserCodeSyntaxError', String(err), err);
  }
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  if (code === 'MODULE_NOT_FOUND' || code === 'ERR_MODULE_NOT_FOUND') {
    // A dependency the module itself imports is missing: the message names that dependency.
    return new RuntimeError('Runtime.ImportModuleError', String(err), err);
  }
  // Anything else thrown by top-level code is reported under its own name, as the RIC does.
  return err;
}
