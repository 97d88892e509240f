/**
 * The architecture's import rules, checked over the tree: which folder may import which, which
 * packages a client-side folder may use, and no import cycles between folders. `npm run lint`
 * and `npm test` run it (layering.test.ts); a wrong import fails CI with the rule it breaks.
 */
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as ts from 'typescript';

/** One layer: the files under `folder` (the longest matching folder wins) and what they may import. */
export interface Layer {
  folder: string;
  /** Folders whose files this layer may import (its own folder always). */
  mayImport: readonly string[];
  /** Packages this layer must not use (prefix match), e.g. NATS on the client side. */
  forbiddenPackages?: readonly string[];
  /** Why the rule exists, printed with a violation. */
  why: string;
}

const SERVER_ONLY_PACKAGES = ['@nats-io/', '@opentelemetry/sdk-', '@opentelemetry/exporter-', '@opentelemetry/resources'];

/** The rules of PRODUCT.md §1 and STYLE.md: dependencies point inward, router and agent never meet. */
export const LAYERS: readonly Layer[] = [
  { folder: 'proto/gen', mayImport: [], why: 'generated wire code depends on nothing of ours' },
  { folder: 'sdk/core', mayImport: ['proto/gen'], forbiddenPackages: SERVER_ONLY_PACKAGES, why: 'the core clients and servers share knows no client, server or transport' },
  { folder: 'sdk/client', mayImport: ['proto/gen', 'sdk/core'], forbiddenPackages: SERVER_ONLY_PACKAGES, why: 'the client SDK ships to users: no server code, no NATS' },
  { folder: 'sdk/cli', mayImport: ['proto/gen', 'sdk/core', 'sdk/client'], forbiddenPackages: SERVER_ONLY_PACKAGES, why: 'the CLI talks to routers through the client SDK; `stratus dev` starts servers as processes' },
  { folder: 'sdk/index.ts', mayImport: ['sdk/core', 'sdk/client'], why: 'the public SDK entry exports client code only' },
  { folder: 'sdk/platform', mayImport: ['proto/gen', 'sdk/core'], why: 'the server core serves router and agent alike, so it knows neither' },
  { folder: 'router', mayImport: ['proto/gen', 'sdk/core', 'sdk/platform'], why: 'the router reaches agents over gRPC only, never by importing them' },
  { folder: 'node-agent', mayImport: ['proto/gen', 'sdk/core', 'sdk/platform'], why: 'the agent knows routers only through its gRPC service and NATS' },
  { folder: 'node-agent/runtimes', mayImport: [], forbiddenPackages: ['@'], why: 'runtimes run inside sandboxes with Node builtins only' },
  { folder: 'bench', mayImport: ['*'], why: 'benchmarks drive the whole system' },
  { folder: 'test', mayImport: ['*'], why: 'tests drive the whole system' },
];

/** What a unit test may import on top of its folder's rule: fixtures and test helpers. */
const TEST_EXTRAS = ['test', 'sdk/client'];

/** One broken rule. */
export interface Violation {
  file: string;
  imported: string;
  rule: string;
}

/** The layer a repository-relative path belongs to (longest folder match), if any. */
export function layerOf(file: string, layers: readonly Layer[] = LAYERS): Layer | undefined {
  let best: Layer | undefined;
  for (const layer of layers) {
    const inside = file === layer.folder || file.startsWith(`${layer.folder}/`);
    if (inside && (!best || layer.folder.length > best.folder.length)) best = layer;
  }
  return best;
}

function within(file: string, folder: string): boolean {
  return folder === '*' || file === folder || file.startsWith(`${folder}/`) || file.startsWith(`${folder}.`);
}

/** The import specifiers of one source text (static, dynamic, require and `import type`). */
export function importsOf(source: string): string[] {
  return ts.preProcessFile(source, true, true).importedFiles.map((f) => f.fileName);
}

/** Checks one file's imports; `file` and the results are repository-relative. */
export function checkFile(file: string, specifiers: readonly string[], layers: readonly Layer[] = LAYERS): Violation[] {
  const layer = layerOf(file, layers);
  if (!layer) return [];
  const isTest = file.endsWith('.test.ts');
  const allowed = [layer.folder, ...layer.mayImport, ...(isTest ? [...TEST_EXTRAS, topFolder(layer.folder)] : [])];
  const out: Violation[] = [];
  for (const spec of specifiers) {
    if (spec.startsWith('.')) {
      const target = path.posix.normalize(path.posix.join(path.posix.dirname(file), spec)).replace(/\.js$/, '');
      if (!allowed.some((folder) => within(target, folder))) {
        out.push({ file, imported: target, rule: `${layer.folder} may import ${describe(layer.mayImport)}: ${layer.why}` });
      }
    } else if (!spec.startsWith('node:') && layer.forbiddenPackages?.some((p) => spec.startsWith(p)) && !isTest) {
      out.push({ file, imported: spec, rule: `${layer.folder} must not use ${layer.forbiddenPackages.join(', ')}: ${layer.why}` });
    }
  }
  return out;
}

function topFolder(folder: string): string {
  return folder.split('/')[0] ?? folder;
}

function describe(folders: readonly string[]): string {
  return folders.length === 0 ? 'nothing outside itself' : `only itself and ${folders.join(', ')}`;
}

/**
 * Import cycles between folders (a folder's files importing another's and back), outside tests
 * and composition roots (main.ts wires everything by design). Each cycle is listed once.
 */
export function folderCycles(edges: ReadonlyMap<string, readonly string[]>): string[][] {
  const graph = new Map<string, Set<string>>();
  for (const [file, targets] of edges) {
    if (file.endsWith('.test.ts') || path.posix.basename(file) === 'main.ts') continue;
    const from = path.posix.dirname(file);
    for (const target of targets) {
      const to = path.posix.dirname(target);
      if (to === from) continue;
      let set = graph.get(from);
      if (!set) graph.set(from, (set = new Set()));
      set.add(to);
    }
  }
  // Tarjan's strongly connected components; a component of two or more folders is a cycle.
  let index = 0;
  const indices = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const visit = (v: string): void => {
    indices.set(v, index);
    low.set(v, index++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!indices.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v) ?? 0, low.get(w) ?? 0));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v) ?? 0, indices.get(w) ?? 0));
    }
    if (low.get(v) === indices.get(v)) {
      const component: string[] = [];
      let w: string | undefined;
      do {
        w = stack.pop();
        if (w === undefined) break;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1) cycles.push(component.sort());
    }
  };
  for (const v of graph.keys()) if (!indices.has(v)) visit(v);
  return cycles;
}

const SOURCE_ROOTS = ['sdk', 'router', 'node-agent', 'bench', 'test'];

function sourceFiles(root: string, dir: string, out: string[]): string[] {
  for (const entry of readdirSync(path.join(root, dir), { withFileTypes: true })) {
    const rel = path.posix.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== 'node_modules' && entry.name !== 'results') sourceFiles(root, rel, out);
    } else if (entry.name.endsWith('.ts')) out.push(rel);
  }
  return out;
}

/** Everything wrong with the tree at `root`: broken layer rules and folder cycles. */
export function checkTree(root: string): { violations: Violation[]; cycles: string[][]; files: number } {
  const files = SOURCE_ROOTS.flatMap((dir) => sourceFiles(root, dir, []));
  const violations: Violation[] = [];
  const edges = new Map<string, string[]>();
  for (const file of files) {
    const specifiers = importsOf(readFileSync(path.join(root, file), 'utf8'));
    violations.push(...checkFile(file, specifiers));
    edges.set(
      file,
      specifiers.filter((s) => s.startsWith('.')).map((s) => path.posix.normalize(path.posix.join(path.posix.dirname(file), s))),
    );
  }
  return { violations, cycles: folderCycles(edges), files: files.length };
}
