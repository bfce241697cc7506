import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['server/**/*.test.ts', 'protocol/**/*.test.ts'],
          exclude: ['**/*.int.test.ts'],
        },
      },
      {
        // The web app's plain modules. Its tsconfig extends one that `svelte-kit sync` generates,
        // absent from a fresh clone: the compiler options the transform reads are given here.
        esbuild: { tsconfigRaw: JSON.stringify({ compilerOptions: { target: 'ES2022', verbatimModuleSyntax: true } }) },
        test: {
          name: 'web',
          include: ['web/src/**/*.test.ts'],
        },
      },
      {
        // Real mediasoup workers and FFmpeg processes: run files one at a time.
        test: {
          name: 'integration',
          include: ['server/**/*.int.test.ts', 'bench/**/*.int.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 30_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
