import * as path from 'node:path';
import { checkFile, checkTree, folderCycles, importsOf, layerOf } from './layers';

const ROOT = path.resolve(__dirname, '..', '..');

describe('the layering check', () => {
  test('the tree breaks no import rule and has no folder cycle when checked as it is', () => {
    const { violations, cycles, files } = checkTree(ROOT);
    expect(files).toBeGreaterThan(200);
    // A failure lists each wrong import with the rule it breaks: move the code, or pass a narrow interface down.
    expect(violations).toEqual([]);
    expect(cycles).toEqual([]);
  });

  test('checkFile refuses an import when the router imports the agent', () => {
    const [v] = checkFile('router/invoke/invoker.ts', ['../../node-agent/agent']);
    expect(v).toMatchObject({ file: 'router/invoke/invoker.ts', imported: 'node-agent/agent' });
    expect(v?.rule).toMatch(/^router may import only itself and proto\/gen, sdk\/core, sdk\/platform/);
  });

  test('checkFile refuses an import when the agent imports the router', () => {
    expect(checkFile('node-agent/agent.ts', ['../router/cluster/placement'])).toHaveLength(1);
  });

  test('checkFile refuses server code and NATS when the client SDK imports them', () => {
    const found = checkFile('sdk/client/stratus-client.ts', ['../platform/logger', '@nats-io/nats-core', '../core/errors', '@grpc/grpc-js', 'node:fs']);
    expect(found.map((v) => v.imported)).toEqual(['sdk/platform/logger', '@nats-io/nats-core']);
  });

  test('checkFile refuses any package when a sandboxed runtime imports one', () => {
    expect(checkFile('node-agent/runtimes/nodejs/bootstrap.ts', ['@opentelemetry/api', 'node:net', './frames'])).toHaveLength(1);
    expect(checkFile('node-agent/runtimes/nodejs/bootstrap.ts', ['../../../sdk/core/errors'])).toHaveLength(1);
  });

  test('checkFile allows test helpers and client fixtures when the importer is a unit test', () => {
    expect(checkFile('router/cluster/placement.test.ts', ['../../test/helpers/seeded-random', '../../sdk/client/bundle-pack', './placement'])).toEqual([]);
    expect(checkFile('router/cluster/placement.ts', ['../../test/helpers/seeded-random'])).toHaveLength(1);
    expect(checkFile('router/cluster/placement.test.ts', ['../../node-agent/agent'])).toHaveLength(1);
  });

  test('layerOf picks the most specific folder when layers nest', () => {
    expect(layerOf('node-agent/runtimes/nodejs/frames.ts')?.folder).toBe('node-agent/runtimes');
    expect(layerOf('node-agent/instances/instance.ts')?.folder).toBe('node-agent');
    expect(layerOf('sdk/index.ts')?.folder).toBe('sdk/index.ts');
    expect(layerOf('examples/hello/index.ts')).toBeUndefined();
  });

  test('folderCycles reports two folders when they import each other', () => {
    const edges = new Map([
      ['router/tables/table-store.ts', ['router/mappings/stream-records']],
      ['router/mappings/record-source.ts', ['router/tables/table-records']],
      ['router/main.ts', ['router/tables/table-store']],
    ]);
    expect(folderCycles(edges)).toEqual([['router/mappings', 'router/tables']]);
  });

  test('folderCycles ignores composition roots and tests when they close a loop', () => {
    const edges = new Map([
      ['router/main.ts', ['router/async/async-queue']],
      ['router/async/async-queue.ts', ['router/grpc-handler']],
      ['router/async/x.test.ts', ['router/invoke/invoker']],
      ['router/invoke/invoker.ts', ['router/async/async-queue']],
    ]);
    expect(folderCycles(edges)).toEqual([]);
  });

  test('importsOf finds static, type-only, dynamic and require imports when all appear', () => {
    const src = "import a from './a';\nimport type { B } from '../b';\nexport * from './c';\nconst d = require('./d');\nconst e = import('./e');\n";
    expect(importsOf(src)).toEqual(['./a', '../b', './c', './d', './e']);
  });
});
