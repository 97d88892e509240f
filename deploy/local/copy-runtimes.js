// Build step: runtimes that are not TypeScript (Python) are copied next to the compiled ones,
// so an agent finds every runtime under dist/node-agent/runtimes.
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..', '..');
const from = path.join(root, 'node-agent', 'runtimes', 'python');
const to = path.join(root, 'dist', 'node-agent', 'runtimes', 'python');
if (fs.existsSync(from)) {
  fs.rmSync(to, { recursive: true, force: true });
  fs.cpSync(from, to, { recursive: true, filter: (src) => !src.endsWith('.ts') && !src.includes('__pycache__') });
}
