import { defineConfig } from '@playwright/test';

/**
 * Playwright drives Debian's Chromium (it cannot download its own browsers offline). Set
 * CHROMIUM_PATH to another binary, or to an empty string to use Playwright's own browsers.
 */
const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export default defineConfig({
  testDir: 'e2e',
  // Each test file starts its own server with real mediasoup workers and FFmpeg; two cores.
  workers: 1,
  fullyParallel: false,
  timeout: 90_000,
  expect: { timeout: 15_000 },
  retries: 0,
  reporter: process.env.CI ? [['list']] : [['list']],
  use: {
    browserName: 'chromium',
    trace: 'retain-on-failure',
    launchOptions: {
      ...(executablePath ? { executablePath } : {}),
      args: [
        '--use-fake-device-for-media-stream',
        '--use-fake-ui-for-media-stream',
        '--no-sandbox',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
        // Audio must play unmuted in the viewer pages without a user gesture.
        '--autoplay-policy=no-user-gesture-required',
      ],
    },
  },
});
