/**
 * The multi-host suite (npm run test:cluster): three hosts as network namespaces, each with its
 * own nats-server, agent and (on two) a router. Needs root for `ip netns`; kept out of `npm test`.
 */
const base = require('./jest.config');

module.exports = {
  ...base,
  roots: ['<rootDir>/test/cluster'],
  testPathIgnorePatterns: ['/node_modules/'],
  testTimeout: 180000,
};
