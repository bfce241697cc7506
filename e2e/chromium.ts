import type { LaunchOptions } from '@playwright/test';

/**
 * How tests and benchmarks start Chromium: Debian's binary (Playwright cannot download its own
 * browsers offline; CHROMIUM_PATH overrides it, an empty value uses Playwright's own), fake
 * camera and microphone, and no background traffic to Google's hosts.
 */
const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export const chromiumLaunchOptions: LaunchOptions = {
  ...(executablePath ? { executablePath } : {}),
  args: [
    '--use-fake-device-for-media-stream',
    '--use-fake-ui-for-media-stream',
    '--no-sandbox',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
    // Viewer pages play audio without a user gesture.
    '--autoplay-policy=no-user-gesture-required',
  ],
};
