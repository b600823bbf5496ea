import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      'node_modules/**',
      'data/**',
      '.cache/**',
      '.scratch/**',
      'coverage/**',
      'core/clickhouse/native/build/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        Buffer: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        URL: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // ingest, detect and correlate talk through the bus and ClickHouse, never by import.
    files: ['ingest/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: ['**/detect/**', '**/correlate/**'] }] },
  },
  {
    files: ['detect/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: ['**/ingest/**', '**/correlate/**'] }] },
  },
  {
    files: ['correlate/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: ['**/ingest/**', '**/detect/**'] }] },
  },
);
