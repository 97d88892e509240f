/** Jest runs TypeScript sources directly (transpile only: `npm run build` type-checks). */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/sdk', '<rootDir>/router', '<rootDir>/node-agent', '<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  // The multi-host suite (network namespaces, root) has its own script: npm run test:cluster.
  testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/cluster/'],
  transform: { '^.+\\.ts$': ['ts-jest', { diagnostics: false }] },
  testTimeout: 60000,
};
