// Lint rules that types can check and tsc does not. Layering (who may import whom) is checked by
// test/layering/layers.ts, which resolves every import to a file; this config is about promises.
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'proto/gen/**', 'examples/**', 'bench/results/**'] },
  {
    files: ['**/*.ts'],
    languageOptions: {
      parser: tseslint.parser,
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { '@typescript-eslint': tseslint.plugin },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // A promise nobody awaits or catches turns a rejection into a crash (or a silent loss); `void`
      // is no answer either: it only says the author believed the callee never rejects.
      '@typescript-eslint/no-floating-promises': ['error', { ignoreVoid: false, ignoreIIFE: false }],
    },
  },
);
