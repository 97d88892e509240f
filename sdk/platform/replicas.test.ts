import { clusterServers, describeReplicaChoice, replicasFor } from './replicas';

test('replicasFor chooses three replicas when the cluster has three or more servers', () => {
  expect(replicasFor(3)).toBe(3);
  expect(replicasFor(5)).toBe(3);
});

test('replicasFor chooses one replica when the cluster has fewer than three servers', () => {
  expect(replicasFor(1)).toBe(1);
  expect(replicasFor(2)).toBe(1);
});

test('clusterServers counts every routed server when the server is clustered', () => {
  const info = { host: '10.0.0.1', port: 4222, cluster: 'stratus', connect_urls: ['10.0.0.2:4222', '10.0.0.1:4222', '10.0.0.3:4222', '10.0.0.2:4222'] };
  expect(clusterServers(info)).toEqual(['10.0.0.1:4222', '10.0.0.2:4222', '10.0.0.3:4222']);
});

test('clusterServers counts only the server itself when it is not clustered or advertises nothing', () => {
  expect(clusterServers({ host: '127.0.0.1', port: 4222, connect_urls: ['a:1', 'b:2'] })).toEqual(['127.0.0.1:4222']);
  expect(clusterServers({ host: '127.0.0.1', port: 4222, cluster: 'c' })).toEqual(['127.0.0.1:4222']);
  expect(clusterServers(undefined)).toEqual([]);
});

test('describeReplicaChoice names the cluster and its size when the count was detected', () => {
  expect(describeReplicaChoice({ replicas: 3, source: 'detected', servers: ['a', 'b', 'c'], cluster: 'stratus' })).toBe(
    "replicas 3 for Stratus streams, KV buckets and the object store: NATS cluster 'stratus' has 3 server(s) (STRATUS_REPLICAS overrides)",
  );
  expect(describeReplicaChoice({ replicas: 1, source: 'configured', servers: [], cluster: undefined })).toContain('(STRATUS_REPLICAS)');
});
