import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'templates/**/*.test.ts', 'node-host/**/*.test.ts', 'test/**/*.test.ts'],
    // test/.tmp holds scratch files, including fixture suites that tests run in a nested vitest.
    exclude: [...configDefaults.exclude, 'test/.tmp/**'],
    // Child processes, not threads: tests start daemons and need a real process per file so
    // that NODE_EXTRA_CA_CERTS (read by Node only at start-up) comes from the global setup.
    pool: 'forks',
    // Three files at a time on CI's 2 CPUs (vitest's default there is one): most suites wait on
    // the programs they start (Pebble, node hosts, Chromium) rather than compute. A full run with
    // 3 took 784 s with the machine already at load 8–11 from other work, all passed; with 1 on an
    // idle machine it took 631 s.
    maxWorkers: 3,
    // Once per run: scratch directory, throwaway CA trusted through NODE_EXTRA_CA_CERTS,
    // and at the end a sweep for any process a test left running.
    globalSetup: ['test/harness/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    watch: false,
  },
});
