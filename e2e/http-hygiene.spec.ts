import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startApp } from '../server/src/app.js';
import { loadConfig } from '../server/src/config.js';
import { createLogger } from '../server/src/logger.js';
import { logCapture, watchProcessOutput } from '../server/test/helpers/output.js';
import { expect, test } from './fixtures.js';

test('an unknown URL gets the 404 page, without a stack trace, and the server logs it as JSON only', async ({ page }) => {
  // A server of its own, to read its log.
  const log = logCapture();
  const hlsDir = await mkdtemp(path.join(os.tmpdir(), 'livecast-e2e-404-'));
  const app = await startApp(
    loadConfig({ ...process.env, HOST: '127.0.0.1', PORT: '0', HLS_DIR: hlsDir, MEDIASOUP_WORKERS: '1' }),
    createLogger('debug', log),
  );
  const output = watchProcessOutput();
  try {
    for (const unknown of ['/nope/deeper', '/favicon.ico', '/.env']) {
      const response = await page.goto(`${app.url}${unknown}`);
      expect(response?.status(), unknown).toBe(404);
      expect(await response!.text()).not.toMatch(/Error:|\bat .*\.js|Missing \+page/);
      await expect(page.getByTestId('error-status')).toHaveText('Not found');
      await expect(page.locator('body')).not.toContainText('Internal Error');
    }
    // The page is the app: its links lead on.
    await page.getByRole('link', { name: 'See who is live' }).click();
    await expect(page.getByTestId('directory-empty')).toBeVisible();
  } finally {
    output.stop();
    await app.close();
    await rm(hlsDir, { recursive: true, force: true });
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
