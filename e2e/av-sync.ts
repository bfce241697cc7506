import type { Page } from '@playwright/test';
import type { Beep } from '../web/src/lib/test-source.js';

/**
 * The broadcaster side of the A/V sync measurement (bench/av-analysis.ts does the rest), shared
 * by e2e/av-sync.spec.ts and bench/av-sync.ts: the go-live page with the beeping test source
 * (`?source=test&avsync`), the beeps' delivery times it records, and a MediaRecorder recording of
 * the same MediaStream in the page (the baseline: the source's own A/V offset, as the browser
 * timestamps its tracks, without the network, the SFU or FFmpeg).
 */

declare global {
  interface Window {
    __avRecording?: { recorder: MediaRecorder; chunks: Blob[] };
  }
}

/**
 * Opens the go-live page with the beeping test source on `page` (whose context has the server
 * as baseURL), optionally starts the baseline recording, goes live; resolves with the channel id
 * once the page says Live.
 */
export async function goLiveWithBeeps(page: Page, { record = false }: { record?: boolean } = {}): Promise<string> {
  await page.goto('/go-live?source=test&avsync');
  await page.locator('[data-testid=go-live]:enabled').waitFor({ timeout: 30_000 });
  if (record) await startRecording(page);
  await page.getByTestId('go-live').click();
  await page.getByTestId('status').filter({ hasText: 'Live' }).waitFor({ timeout: 30_000 });
  return (await page.getByTestId('channel-id').textContent())!.trim();
}

/** The beeps the page has delivered so far, with their wall clocks. */
export async function beepsOf(page: Page): Promise<Beep[]> {
  const beeps = await page.evaluate(() => window.__beeps);
  if (!beeps) throw new Error('the page has no beeping test source (go-live?source=test&avsync)');
  return beeps;
}

/** Records the preview's MediaStream (the test source itself) to WebM, VP8 + PCM. */
async function startRecording(page: Page): Promise<void> {
  await page.evaluate(() => {
    const stream = document.querySelector<HTMLVideoElement>('[data-testid=preview]')!.srcObject as MediaStream;
    const recorder = new MediaRecorder(stream, { mimeType: 'video/webm;codecs=vp8,pcm' });
    const chunks: Blob[] = [];
    recorder.ondataavailable = (e) => chunks.push(e.data);
    recorder.start(1000);
    window.__avRecording = { recorder, chunks };
  });
}

/** Stops the baseline recording; resolves with the WebM file. */
export async function stopRecording(page: Page): Promise<Buffer> {
  const base64 = await page.evaluate(async () => {
    const { recorder, chunks } = window.__avRecording!;
    await new Promise((resolve) => {
      recorder.onstop = resolve;
      recorder.stop();
    });
    const bytes = new Uint8Array(await new Blob(chunks).arrayBuffer());
    let binary = '';
    for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    return btoa(binary);
  });
  return Buffer.from(base64, 'base64');
}
