import { build } from 'esbuild';
import type { Page } from '@playwright/test';

/**
 * Bundles an npm library written by others (ES modules with bare imports) into one script for a
 * page, offline, with the esbuild the web build already uses. `entry` is the module source that
 * puts what the test needs on `window`.
 */
export async function bundleForPage(entry: string): Promise<string> {
  const result = await build({
    stdin: { contents: entry, resolveDir: process.cwd(), loader: 'js' },
    bundle: true,
    write: false,
    format: 'iife',
    platform: 'browser',
    target: 'chrome120',
    logLevel: 'silent',
  });
  return result.outputFiles[0]!.text;
}

/** A blank page on the server's origin (no app code, no CSP) hosting `bundle`. */
export async function openBlankPageWith(page: Page, origin: string, bundle: string): Promise<void> {
  const url = `${origin}/third-party-client`;
  await page.route(url, (route) => route.fulfill({ contentType: 'text/html', body: '<!doctype html><title>third-party client</title><video data-testid="player" autoplay muted playsinline></video>' }));
  await page.goto(url);
  // While a route is set, every request of the page waits on the test process (the one running
  // the server too); an LL-HLS player makes several a second.
  await page.unroute(url);
  await page.addScriptTag({ content: bundle });
}
