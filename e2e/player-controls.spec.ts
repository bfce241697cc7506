import AxeBuilder from '@axe-core/playwright';
import type { BrowserContext, Page } from '@playwright/test';
import { expect, expectVideoPlaying, goLive, test } from './fixtures.js';

type Mode = 'hls' | 'realtime';

/** One broadcast for the whole file: each test watches it from pages of its own. */
let broadcaster: BrowserContext | undefined;
let channelId = '';

test.beforeAll(async ({ app, browser }) => {
  broadcaster = await browser.newContext({ baseURL: app.url });
  channelId = await goLive(await broadcaster.newPage());
});
test.afterAll(async () => {
  await broadcaster?.close();
});

async function watch(page: Page, mode: Mode): Promise<void> {
  await page.goto(`/watch/${channelId}?mode=${mode}`);
  await expect(page.getByTestId('mode')).toHaveAttribute('data-mode', mode);
  await expectVideoPlaying(page);
}

const video = (page: Page) => page.getByTestId('player');
const isPaused = (page: Page) => video(page).evaluate((v: HTMLVideoElement) => v.paused);
const isMuted = (page: Page) => video(page).evaluate((v: HTMLVideoElement) => v.muted);
const currentTime = (page: Page) => video(page).evaluate((v: HTMLVideoElement) => v.currentTime);
/** The data-testid of the element in full screen, or null. */
const fullscreenElement = (page: Page) => page.evaluate(() => document.fullscreenElement?.getAttribute('data-testid') ?? null);
/** The watch page's "≈ … behind live" readout: hls.js's playing date against the wall clock. */
const secondsBehindLive = async (page: Page) => Number(await page.getByTestId('latency').getAttribute('data-seconds'));

async function expectAdvancing(page: Page): Promise<void> {
  const t0 = await currentTime(page);
  await expect.poll(() => currentTime(page)).toBeGreaterThan(t0 + 0.5);
}

for (const mode of ['hls', 'realtime'] as const) {
  test(`${mode}: the buttons pause and play, mute and unmute, enter and leave full screen; the badge says live`, async ({ page }) => {
    await watch(page, mode);
    const badge = page.getByTestId('live-badge');
    await expect(badge).toHaveAttribute('data-behind', 'false');
    await expect(page.getByTestId('go-live-edge')).toHaveCount(0);
    await expect(page.getByTestId('player-controls')).toHaveAccessibleName('Player controls');

    const playPause = page.getByTestId('play-pause');
    await expect(playPause).toHaveAccessibleName('Pause');
    await playPause.click();
    expect(await isPaused(page)).toBe(true);
    await expect(playPause).toHaveAccessibleName('Play');
    await playPause.click();
    await expect(playPause).toHaveAccessibleName('Pause');
    expect(await isPaused(page)).toBe(false);
    await expectAdvancing(page);

    // Started with sound (the test browser allows autoplay), so nothing offers to unmute.
    const mute = page.getByTestId('mute');
    expect(await isMuted(page)).toBe(false);
    await expect(page.getByTestId('unmute')).toHaveCount(0);
    await expect(mute).toHaveAccessibleName('Mute');
    await expect(mute).toHaveAttribute('aria-pressed', 'false');
    await mute.click();
    expect(await isMuted(page)).toBe(true);
    await expect(mute).toHaveAttribute('aria-pressed', 'true');
    await expect(mute).toHaveAccessibleName('Mute');
    await mute.click();
    expect(await isMuted(page)).toBe(false);
    await expect(mute).toHaveAttribute('aria-pressed', 'false');

    // The player's frame goes full screen, so that the controls come along.
    const fullscreen = page.getByTestId('fullscreen');
    await expect(fullscreen).toHaveAttribute('aria-pressed', 'false');
    await fullscreen.click();
    await expect.poll(() => fullscreenElement(page)).toBe('player-frame');
    await expect(fullscreen).toHaveAttribute('aria-pressed', 'true');
    await expect(page.getByTestId('player-controls')).toBeVisible();
    await fullscreen.click();
    await expect.poll(() => fullscreenElement(page)).toBeNull();
    await expect(fullscreen).toHaveAttribute('aria-pressed', 'false');
    await expectAdvancing(page);
  });
}

test('keyboard: Space plays and pauses, M mutes, F toggles full screen; Space on a focused button stays that button’s', async ({ page }) => {
  await watch(page, 'hls');
  await page.keyboard.press('Space');
  await expect.poll(() => isPaused(page)).toBe(true);
  await expect(page.getByTestId('play-pause')).toHaveAccessibleName('Play');
  await page.keyboard.press('Space');
  await expect.poll(() => isPaused(page)).toBe(false);
  await expectAdvancing(page);

  await page.keyboard.press('m');
  await expect.poll(() => isMuted(page)).toBe(true);
  await expect(page.getByTestId('mute')).toHaveAttribute('aria-pressed', 'true');
  await page.keyboard.press('m');
  await expect.poll(() => isMuted(page)).toBe(false);

  await page.keyboard.press('f');
  await expect.poll(() => fullscreenElement(page)).toBe('player-frame');
  await page.keyboard.press('f');
  await expect.poll(() => fullscreenElement(page)).toBeNull();

  // Focused from the keyboard, the mute button shows it; Space then presses it, and does not also pause.
  const mute = page.getByTestId('mute');
  await mute.focus();
  await expect(mute).toHaveCSS('outline-style', 'solid');
  await page.keyboard.press('Space');
  await expect.poll(() => isMuted(page)).toBe(true);
  expect(await isPaused(page)).toBe(false);
});

test('hls: paused for a while, the player is behind; "Go to live" jumps to the live edge and plays', async ({ page }) => {
  await watch(page, 'hls');
  await expect(page.getByTestId('latency')).toBeVisible();
  // Relative to where it played before the pause: a busy machine may already play seconds behind.
  const before = await secondsBehindLive(page);

  await page.getByTestId('play-pause').click();
  const pausedAt = await currentTime(page);
  await page.waitForTimeout(6_000);
  await expect(page.getByTestId('live-badge')).toHaveAttribute('data-behind', 'true');
  await expect(page.getByTestId('go-live-edge')).toBeVisible();
  await expect.poll(() => secondsBehindLive(page)).toBeGreaterThan(before + 4);
  const behind = await secondsBehindLive(page);

  await page.getByTestId('go-live-edge').click();
  // The jump itself, not catching up: the playhead moved by about the time spent paused…
  expect(await currentTime(page)).toBeGreaterThan(pausedAt + 4);
  // …to hls.js's live sync position, at least as near the live edge as before the pause.
  await expect.poll(() => secondsBehindLive(page), { timeout: 5_000 }).toBeLessThan(Math.min(behind - 4, before + 1));
  expect(await isPaused(page)).toBe(false);
  await expectAdvancing(page);
  await expect(page.getByTestId('live-badge')).toHaveAttribute('data-behind', 'false');
  await expect(page.getByTestId('go-live-edge')).toHaveCount(0);
});

test('real time: paused, the player offers "Go to live", which plays the live picture again', async ({ page }) => {
  await watch(page, 'realtime');
  await page.getByTestId('play-pause').click();
  await expect(page.getByTestId('live-badge')).toHaveAttribute('data-behind', 'true');
  await page.getByTestId('go-live-edge').click();
  expect(await isPaused(page)).toBe(false);
  await expectAdvancing(page);
  await expect(page.getByTestId('live-badge')).toHaveAttribute('data-behind', 'false');
  await expect(page.getByTestId('go-live-edge')).toHaveCount(0);
});

/** Whether the page scrolls sideways. */
const scrollsSideways = (page: Page) => page.evaluate(() => document.documentElement.scrollWidth > document.documentElement.clientWidth);

test.describe('on a phone (390×844)', () => {
  test.use({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });

  test('the watch page, the directory and go-live fit the width; every control of the player is on screen', async ({ page }) => {
    await watch(page, 'hls');
    expect(await scrollsSideways(page)).toBe(false);
    const controls = page.getByTestId('player-controls');
    const liveIndicator = page.getByTestId('live-badge').or(page.getByTestId('go-live-edge')).filter({ visible: true });
    // The live indicator appears once the player knows where the live edge is, and on a phone the
    // badge and "Go to live" swap places while the player settles at the edge (CI twice measured one
    // of them just as it went): each control is measured until it is found on screen.
    for (const control of [page.getByTestId('play-pause'), page.getByTestId('mute'), liveIndicator, page.getByTestId('quality-menu'), page.getByTestId('fullscreen')]) {
      await expect(async () => {
        const box = await control.first().boundingBox({ timeout: 1_000 });
        expect(box, String(control)).not.toBeNull();
        expect(box!.x, String(control)).toBeGreaterThanOrEqual(0);
        expect(box!.x + box!.width, String(control)).toBeLessThanOrEqual(390);
      }).toPass({ timeout: 10_000 });
    }
    // Paused, the "Go to live" button takes the badge's place: the bar stays one row.
    const oneRow = (await page.getByTestId('play-pause').boundingBox())!.height;
    await page.getByTestId('play-pause').click();
    const goLiveBox = await page.getByTestId('go-live-edge').boundingBox();
    expect(goLiveBox!.x + goLiveBox!.width).toBeLessThanOrEqual(390);
    expect((await controls.boundingBox())!.height).toBeLessThan(2 * oneRow);
    expect(await scrollsSideways(page)).toBe(false);

    for (const path of ['/', '/go-live']) {
      await page.goto(path);
      await expect(page.getByRole('heading', { level: 1 })).toBeVisible();
      expect(await scrollsSideways(page), path).toBe(false);
    }
  });
});

test('the pages follow prefers-color-scheme', async ({ page }) => {
  await watch(page, 'hls');
  /** Relative luminance of an `rgb(…)` colour, 0 (black) to 1 (white). */
  const luminance = (css: string) => {
    const [r = 0, g = 0, b = 0] = (css.match(/[\d.]+/g) ?? []).map(Number);
    return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255;
  };
  const colours = () =>
    page.evaluate(() => ({
      text: getComputedStyle(document.body).color,
      bar: getComputedStyle(document.querySelector('[data-testid=player-controls]')!).backgroundColor,
    }));
  await page.emulateMedia({ colorScheme: 'dark' });
  const dark = await colours();
  expect(luminance(dark.text)).toBeGreaterThan(0.8);
  expect(luminance(dark.bar)).toBeLessThan(0.2);
  await page.emulateMedia({ colorScheme: 'light' });
  const light = await colours();
  expect(luminance(light.text)).toBeLessThan(0.2);
  expect(luminance(light.bar)).toBeGreaterThan(0.8);
});

/** axe-core's serious and critical findings, one line each (rule, what it asks, where and why). */
async function seriousViolations(page: Page): Promise<string[]> {
  const { violations } = await new AxeBuilder({ page }).analyze();
  return violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${page.url()} ${v.id}: ${v.help} at ${v.nodes.map((n) => `${n.target.join(' ')} (${n.any[0]?.message ?? n.failureSummary})`).join(', ')}`);
}

/**
 * One page and scheme per test: each analysis takes axe-core seconds (much longer on a busy
 * machine). The watch page is checked playing and, behind the live edge, with its dimmed badge
 * and "Go to live" button.
 */
const axeChecks: { name: string; open: (page: Page) => Promise<void> }[] = [
  {
    name: 'the directory, listing a channel',
    open: async (page) => {
      await page.goto('/');
      await expect(page.locator(`[data-testid=directory-entry][data-channel-id="${channelId}"]`)).toBeVisible();
    },
  },
  {
    name: 'go-live, with its camera preview',
    open: async (page) => {
      await page.goto('/go-live');
      await expect(page.getByTestId('go-live')).toBeEnabled();
    },
  },
  { name: 'the watch page in real time', open: (page) => watch(page, 'realtime') },
  {
    name: 'the watch page over HLS, paused behind the live edge',
    open: async (page) => {
      await watch(page, 'hls');
      await page.getByTestId('play-pause').click();
      await expect(page.getByTestId('go-live-edge')).toBeVisible();
    },
  },
];

for (const colorScheme of ['light', 'dark'] as const) {
  for (const { name, open } of axeChecks) {
    test(`axe-core finds no serious or critical accessibility problem on ${name} (${colorScheme})`, async ({ page }) => {
      await page.emulateMedia({ colorScheme });
      await open(page);
      expect(await seriousViolations(page)).toEqual([]);
    });
  }
}
