import { expect, test } from './fixtures.js';

/**
 * Issue 17: a broadcaster names the stream; the directory, the watch page and a shared link's
 * preview show the name, as text, and an edit while live reaches viewers at once.
 */
const TITLE = '<script>window.__injected = 1</script> Morning <b>show</b>';

test('a titled broadcast: the title is shown as text in the directory, on the watch page and in the link preview, and an edit reaches viewers live', async ({ app, browser, page }) => {
  test.setTimeout(90_000);
  await page.goto('/go-live');
  await page.getByTestId('title-input').fill(TITLE);
  await page.getByTestId('description-input').fill('Coffee & code\nevery weekday');
  await page.getByTestId('go-live').click();
  await expect(page.getByTestId('status')).toHaveText('Live', { timeout: 20_000 });
  await expect(page.getByTestId('details-note')).toHaveText('Saved: viewers see it now');
  const channelId = (await page.getByTestId('channel-id').textContent())!.trim();

  // The directory card: the title as typed, as text (no element made of it, no script run).
  const home = await (await browser.newContext()).newPage();
  await home.goto('/');
  const card = home.locator(`[data-testid=directory-entry][data-channel-id="${channelId}"]`);
  await expect(card.getByTestId('directory-title')).toHaveText(TITLE);
  expect(await card.locator('script, b').count()).toBe(0);

  // The watch page: heading, description with its line break, and the tab's title.
  const viewer = await (await browser.newContext()).newPage();
  await viewer.goto(`/watch/${channelId}`);
  await expect(viewer.getByTestId('stream-title')).toHaveText(TITLE);
  await expect(viewer.getByTestId('stream-description')).toHaveText('Coffee & code\nevery weekday');
  await expect(viewer).toHaveTitle(`${TITLE} · livecast`);
  expect(await viewer.evaluate(() => (window as { __injected?: number }).__injected)).toBeUndefined();

  // Edited while live: the watch page and the directory follow without a reload.
  await page.getByTestId('title-input').fill('Evening show');
  await page.getByTestId('save-details').click();
  await expect(viewer.getByTestId('stream-title')).toHaveText('Evening show');
  await expect(viewer).toHaveTitle('Evening show · livecast');
  await expect(card.getByTestId('directory-title')).toHaveText('Evening show');

  // A link preview reads the server's HTML (no script): title, description and the live picture.
  const html = async () => (await (await page.request.get(`${app.url}/watch/${channelId}`)).text());
  await expect.poll(html, { timeout: 20_000 }).toContain(`<meta property="og:image" content="${app.url}/thumbnails/${channelId}.jpg">`);
  const served = await html();
  expect(served).toContain('<meta property="og:title" content="Evening show">');
  expect(served).toContain('<meta property="og:description" content="Coffee &amp; code\nevery weekday">');
  expect(served).toContain('<title>Evening show · livecast</title>');
  const picture = await page.request.get(`${app.url}/thumbnails/${channelId}.jpg`);
  expect(picture.headers()['content-type']).toBe('image/jpeg');

  // A title the server refuses (control characters) is reported on the page, not applied.
  await page.getByTestId('title-input').fill('bad\u0007title');
  await page.getByTestId('save-details').click();
  await expect(page.getByTestId('details-note')).toContainText(/^Not saved: .*a title cannot contain control characters/);
  await expect(viewer.getByTestId('stream-title')).toHaveText('Evening show');
});
