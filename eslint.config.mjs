// House style by tools (prettier formats; eslint catches mistakes): `npm run lint` runs both checks in CI.
import js from '@eslint/js';
import stylistic from '@stylistic/eslint-plugin';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      'dist/',
      'build/',
      'runs/',
      'results/',
      'data/',
      'node_modules/',
      'notebooks/',
      'lib/kernels/wasm/',
      'scratch/',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node, ...globals.browser } },
    plugins: { '@stylistic': stylistic },
    rules: {
      // prettier wraps code at 120 columns but cannot break long strings or comments: this keeps them from drifting.
      '@stylistic/max-len': ['error', { code: 120, ignoreUrls: true }],
      // `_`-prefixed parameters document an argument the signature requires but the body does not use.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['**/*.js', '**/*.mjs', '**/*.cjs'],
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
