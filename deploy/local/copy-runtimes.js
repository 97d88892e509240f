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

// require('stratus') inside a Node.js function: the runtime's node_modules (on its NODE_PATH) links to
// this installation, whose package.json points at the SDK. Sandboxes mount the installation read-only.
const link = path.join(root, 'dist', 'node-agent', 'runtimes', 'nodejs', 'node_modules', 'stratus');
fs.mkdirSync(path.dirname(link), { recursive: true });
fs.rmSync(link, { force: true });
fs.symlinkSync(path.relative(path.dirname(link), root), link);

// The web console's pages are served by routers from dist/router/console/static.
const consoleFrom = path.join(root, 'router', 'console', 'static');
const consoleTo = path.join(root, 'dist', 'router', 'console', 'static');
fs.rmSync(consoleTo, { recursive: true, force: true });
fs.cpSync(consoleFrom, consoleTo, { recursive: true });
