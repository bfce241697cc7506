import { analyseHlsStart, measurable, median, type HlsAvResult } from '../bench/av-analysis.js';
import { beepsOf, goLiveWithBeeps } from './av-sync.js';
import { expect, test } from './fixtures.js';

/**
 * Issue 13: A/V in sync from the first frame. The go-live page's test source beeps every second
 * and paints its clock into every frame; the channel's first LL-HLS segments are fetched and
 * decoded by FFmpeg (bench/av-analysis.ts, no player involved) and every beep's onset is compared
 * with the frame painted when it was delivered. `npm run bench:avsync` does the same over many starts.
 */
const SECONDS = 6;
/**
 * The browser path's constant offset at start varies from start to start on this host: 10–38 ms
 * (audio late) over 11 starts on 2026-12-02, the code of the two latest landed stops alike, in
 * the same pattern (one value per start, steady over its beeps); docs/benchmarks.md ("A/V sync at
 * stream start") shows most of it is the browser's (an FFmpeg-made clip reads 0 ms through the
 * same path; hls-av-sync.int.test.ts holds it to 20 ms). Issue 13's 20 ms holds at the median, not
 * in every start, and stays the goal; this bound is what a start must never exceed: under the
 * audio lag viewers notice (EBU R37: 60 ms; ITU-R BT.1359: 125 ms), and it still fails the
 * offsets this path had before the source's sender reports (first beat +407 ms).
 */
const MAX_OFFSET_MS = 45;
/**
 * Audio timeline steps up to this (ms) pass: FFmpeg re-dates a stream at every sender report, and
 * the relay steadies the reports it gives FFmpeg to move at most 1 ms each (an unsteadied report
 * once made an 8 ms hole); the holes and overlaps the issue is about were 16–129 ms. All are printed.
 */
const MAX_GAP_MS = 2;
/** Starts tried when the page is too disturbed to measure (a loaded machine), time allowing; never retried for an offset. */
const ATTEMPTS = 2;
const RETRY_BEFORE_MS = 25_000;

test('LL-HLS audio and video are in sync from the first segment, with no hole or overlap', async ({ app, page }, testInfo) => {
  test.setTimeout(60_000);
  let result: HlsAvResult | null = null;
  const started = Date.now();
  for (let attempt = 1; attempt <= ATTEMPTS && (attempt === 1 || Date.now() - started < RETRY_BEFORE_MS); attempt++) {
    if (attempt > 1) await page.getByTestId('stop').click();
    result = await analyseHlsStart(app.url, await goLiveWithBeeps(page), () => beepsOf(page), SECONDS);
    await testInfo.attach(`av-sync-${attempt}.json`, { body: JSON.stringify(result, null, 2), contentType: 'application/json' });
    if (measurable(result)) break;
    console.log(`start ${attempt}: the page was too disturbed to measure (beep clock ±${result.beepClock.uncertaintyMs.toFixed(1)} ms, slips of ${result.beepClock.slipMs.toFixed(1)} ms)`);
  }
  result = result!;
  const summary = result.offsets.map((o) => `${o.sinceStart.toFixed(2)} s: ${o.offsetMs.toFixed(1)} ms`).join(', ');
  const jumps = (gaps: { at: number; ms: number }[]) => gaps.map((g) => `${g.ms.toFixed(1)} ms at ${g.at.toFixed(2)} s`).join(', ') || 'none';
  console.log(
    `A/V offset per beep (audio late +): ${summary}\n` +
      `audio holes (+) / overlaps (−): ${jumps(result.gaps)}; audio lost (−) / added (+) between beeps: ${jumps(result.offsets.slice(1).map((o) => ({ at: o.sinceStart, ms: o.audioStepMs })).filter((g) => Math.abs(g.ms) > 2))}; ` +
      `video timeline jumps: ${jumps(result.videoJumps)}; beep clock ±${result.beepClock.uncertaintyMs.toFixed(1)} ms (${result.beepClock.clock}, ${result.beepClock.late} late renders, ${result.beepClock.deviceSlips} slips of ${result.beepClock.slipMs.toFixed(1)} ms)`,
  );

  // The page's own audio clock slips on a loaded machine; then nothing can be said either way:
  // reported as skipped (with why), never as passed. bench:avsync measures many starts.
  test.skip(!measurable(result), `the page's beep clock was too disturbed to measure (±${result.beepClock.uncertaintyMs.toFixed(1)} ms, slips of ${result.beepClock.slipMs.toFixed(1)} ms)`);
  expect(result.runs, 'one timeline (no restart or freeze) in the first seconds').toBe(1);
  expect(result.unmatched, 'every beep heard matches one the page sent').toBe(0);
  // From the first frame: when audio starts a little after video, FFmpeg's fMP4 muxer lengthens
  // the first AAC frame back to 0; the pipeline puts it back (restoreFirstAacSample), so that
  // frame is held to the same bound as every other step.
  expect(result.gaps.filter((g) => Math.abs(g.ms) > MAX_GAP_MS), `no hole or overlap over ${MAX_GAP_MS} ms in the audio track`).toEqual([]);
  const first = result.offsets.slice(0, 5);
  expect(first.length, 'beeps heard in the first segments').toBeGreaterThanOrEqual(SECONDS - 2);
  // The stream's offset is the median of the first beeps: a single beep also carries the page's
  // render jitter (±3–5 ms, more on a loaded machine), which is the measurement's, not the stream's.
  const offsets = first.map((o) => o.offsetMs);
  expect(Math.abs(median(offsets)), `A/V offset of the first segments (median of beeps: ${offsets.map((o) => o.toFixed(1)).join(', ')} ms)`).toBeLessThanOrEqual(MAX_OFFSET_MS);
});
