import type { Response } from '@playwright/test';
import { createLogger } from '../server/src/logger.js';
import { logCapture, watchProcessOutput } from '../server/test/helpers/output.js';
import { startServer } from '../server/test/helpers/server.js';
import { watchCspViolations } from './csp.js';
import { expect, expectVideoPlaying, goLive, test } from './fixtures.js';

/** The headers every page must carry; the CSP is SvelteKit's, with a fresh nonce per page. */
function expectSecurityHeaders(response: Response | null): void {
  expect(response).not.toBeNull();
  const headers = response!.headers();
  const csp = headers['content-security-policy'] ?? '';
  expect(csp).toMatch(/script-src 'self' 'nonce-[A-Za-z0-9+/=]+'/);
  for (const directive of ["default-src 'self'", "connect-src 'self'", "media-src 'self' blob:", "worker-src 'none'", "object-src 'none'", "frame-ancestors 'none'"]) {
    expect(csp).toContain(directive);
  }
  expect(csp).not.toMatch(/'unsafe-(inline|eval)'/);
  expect(headers).toMatchObject({
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'referrer-policy': 'no-referrer',
    'permissions-policy': expect.stringContaining('camera=(self), microphone=(self)'),
  });
}

test('the directory, going live and watching over HLS and over WebRTC all work under the CSP, with no violation', async ({ browser, context, page }) => {
  const violations = await watchCspViolations(context);
  const home = await context.newPage();
  expectSecurityHeaders(await home.goto('/'));
  await expect(home.getByTestId('directory-empty')).toBeVisible();

  const channelId = await goLive(page); // camera, microphone, Socket.IO, WebRTC publishing
  await expect(home.locator(`[data-testid=directory-entry][data-channel-id="${channelId}"]`)).toBeVisible();

  // Viewers in contexts of their own, as separate visitors.
  const viewers = await browser.newContext();
  const viewerViolations = await watchCspViolations(viewers);
  const hls = await viewers.newPage();
  expectSecurityHeaders(await hls.goto(`/watch/${channelId}?mode=hls`)); // hls.js: fetches, MediaSource (blob:)
  const realtime = await viewers.newPage();
  expectSecurityHeaders(await realtime.goto(`/watch/${channelId}?mode=realtime`));
  await expectVideoPlaying(hls);
  await expectVideoPlaying(realtime);
  await expect(hls.getByTestId('mode')).toHaveAttribute('data-mode', 'hls');
  await expect(realtime.getByTestId('mode')).toHaveAttribute('data-mode', 'realtime');
  await expect(page.getByTestId('viewer-count')).toHaveAttribute('data-viewers', '2');

  await page.getByTestId('stop').click();
  await expect(hls.getByTestId('status')).toHaveText('Stream ended');
  expect(violations).toEqual([]);
  expect(viewerViolations).toEqual([]);
  await viewers.close();
});

test('an unknown URL gets the 404 page, without a stack trace, and the server logs it as JSON only', async ({ context, page }) => {
  // A server of its own, to read its log.
  const log = logCapture();
  const app = await startServer({ MEDIASOUP_WORKERS: '1' }, { web: true, inheritEnv: true, logger: createLogger('debug', log) });
  const output = watchProcessOutput();
  try {
    const violations = await watchCspViolations(context);
    for (const unknown of ['/nope/deeper', '/favicon.ico', '/.env']) {
      const response = await page.goto(`${app.url}${unknown}`);
      expect(response?.status(), unknown).toBe(404);
      expectSecurityHeaders(response);
      expect(await response!.text()).not.toMatch(/Error:|\bat .*\.js|Missing \+page/);
      await expect(page.getByTestId('error-status')).toHaveText('Not found');
      await expect(page.locator('body')).not.toContainText('Internal Error');
    }
    // The page is the app: its links lead on.
    await page.getByRole('link', { name: 'See who is live' }).click();
    await expect(page.getByTestId('directory-empty')).toBeVisible();
    expect(violations).toEqual([]);
    // The icon the pages link to exists.
    expect((await page.request.get(`${app.url}/favicon.svg`)).headers()['content-type']).toBe('image/svg+xml');
  } finally {
    output.stop();
    await app.stop();
  }
  expect(output.written.filter((text) => !isJsonLines(text))).toEqual([]);
  const notFound = log.records().filter((r) => r.msg === 'web page not found');
  expect(notFound.map((r) => r.path)).toEqual(['/nope/deeper', '/favicon.ico', '/.env']);
  expect(log.records().filter((r) => Number(r.level) >= 50)).toEqual([]);
});

function isJsonLines(text: string): boolean {
  return text
    .split('\n')
    .filter((line) => line.trim())
    .every((line) => {
      try {
        JSON.parse(line);
        return true;
      } catch {
        return false;
      }
    });
}

test('another site cannot frame the pages (clickjacking)', async ({ app, page }) => {
  const refused: string[] = [];
  page.on('console', (message) => refused.push(message.text()));
  await page.setContent(`<iframe src="${app.url}/go-live" width="800" height="600"></iframe>`);
  await expect.poll(() => refused.join('\n')).toContain("frame-ancestors 'none'");
  await expect(page.frameLocator('iframe').getByTestId('go-live')).toHaveCount(0);
});
