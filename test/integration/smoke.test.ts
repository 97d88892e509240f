import { functionDir, startCluster, uniqueName, type TestCluster } from '../helpers/cluster';

let cluster: TestCluster;
beforeAll(async () => {
  cluster = await startCluster({ agents: 1 });
}, 60_000);
afterAll(async () => cluster?.stop());

test('smoke deploy and invoke', async () => {
  const client = cluster.client();
  const name = uniqueName('smoke');
  const dir = functionDir({ 'index.js': "const fs = require('fs'); let n = 0; exports.handler = async (e) => { n++; console.log('hi', n); return { hello: e.name, n, uid: process.getuid(), root: fs.readdirSync('/'), task: fs.readdirSync('/var/task'), pid: process.pid }; };" });
  await client.deploy({ name, source: dir, settings: { runtime: 'nodejs', handler: 'index.handler' } });
  const r1 = await client.invoke(name, JSON.stringify({ name: 'Ada' }), { logType: 'Tail' });
  console.log(r1.payload.toString(), r1.logTail, r1.report, r1.functionError);
  const r2 = await client.invoke(name, JSON.stringify({ name: 'Ada' }));
  console.log(r2.payload.toString(), r2.report);
  expect(JSON.parse(r2.payload.toString())).toMatchObject({ hello: 'Ada', n: 2 });
});
