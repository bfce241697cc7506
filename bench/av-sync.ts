/**
 * A/V offset of the LL-HLS output at stream start, over many fresh starts (issue 13: ≤ 20 ms
 * from the first frame, no hole or overlap). Each start is a new channel: the go-live page in
 * headless Chromium with the beeping, clock-painting test source (/go-live?source=test&avsync);
 * the channel's first AVSYNC_SECONDS of LL-HLS are fetched and analysed by FFmpeg
 * (bench/av-analysis.ts). In the same page a MediaRecorder records the same MediaStream (WebM,
 * VP8 + PCM), analysed the same way: the baseline, the source's own offset as the browser
 * timestamps its tracks (no network, SFU, FFmpeg or AAC).
 *
 *   npm run bench:avsync      AVSYNC_STARTS (default 10), AVSYNC_SECONDS (default 10),
 *                             AVSYNC_BASELINE=0 to skip the recording
 */
import os from 'node:os';
import { chromium } from '@playwright/test';
import { chromiumLaunchOptions } from '../e2e/chromium.js';
import { beepsOf, goLiveWithBeeps, stopRecording } from '../e2e/av-sync.js';
import { analyseHlsStart, analyseRecording, measurable, median, type Gap } from './av-analysis.js';
import { printTable, startBenchServer } from './lib.js';

const STARTS = Number(process.env.AVSYNC_STARTS ?? 10);
const SECONDS = Number(process.env.AVSYNC_SECONDS ?? 10);
const BASELINE = process.env.AVSYNC_BASELINE !== '0';
/** Beeps 1–5 are "the start"; later ones the steady state. */
const START_BEEPS = 5;
const LIMIT_MS = 20;

const ms = (v: number | undefined) => (v === undefined || Number.isNaN(v) ? '—' : v.toFixed(1));
const mean = (values: number[]) => (values.length ? values.reduce((a, b) => a + b, 0) / values.length : NaN);
const gapsText = (gaps: Gap[]) => (gaps.length ? gaps.map((g) => `${g.ms > 0 ? '+' : ''}${g.ms.toFixed(1)} ms @${g.at.toFixed(2)} s`).join(', ') : 'none');
/** Beep-to-beep audio steps beyond a couple of ms (the beep clock's own wobble is < 1 ms). */
const stepsText = (offsets: { audioStepMs: number; sinceStart: number }[]) =>
  offsets.filter((o) => Math.abs(o.audioStepMs) > 2).map((o) => `${o.audioStepMs.toFixed(0)}@${o.sinceStart.toFixed(2)}`).join(' ') || 'none';
const load = () => os.loadavg().map((l) => l.toFixed(2)).join(' ');

export async function runAvSync(): Promise<void> {
  const server = await startBenchServer({}, { web: true });
  const browser = await chromium.launch(chromiumLaunchOptions);
  const rows: Record<string, string | number>[] = [];
  const summary = { first: [] as number[], start: [] as number[], steady: [] as number[], baseline: [] as number[], withGaps: 0, failed: 0, unmeasurable: 0 };
  const loadBefore = load();
  try {
    for (let i = 1; i <= STARTS; i++) {
      const context = await browser.newContext({ baseURL: server.app.url });
      const page = await context.newPage();
      try {
        const channelId = await goLiveWithBeeps(page, { record: BASELINE });
        const hls = await analyseHlsStart(server.app.url, channelId, () => beepsOf(page), SECONDS);
        const base = BASELINE ? await analyseRecording(await stopRecording(page), await beepsOf(page)) : null;
        const offsets = hls.offsets.map((o) => o.offsetMs);
        const first = hls.offsets[0];
        const start = offsets.slice(0, START_BEEPS);
        const steady = offsets.slice(START_BEEPS);
        const baseline = base ? median(base.offsets.map((o) => o.offsetMs)) : NaN;
        // A start whose page was too disturbed to keep its beeps on a steady clock is listed, not counted.
        const counted = measurable(hls);
        if (counted) {
          if (first) summary.first.push(first.offsetMs);
          if (start.length) summary.start.push(mean(start));
          if (steady.length) summary.steady.push(median(steady));
          if (base) summary.baseline.push(baseline);
          if (hls.gaps.length) summary.withGaps++;
        } else summary.unmeasurable++;
        rows.push({
          start: counted ? String(i) : `${i} (page disturbed: not counted)`,
          'first beep ms (at s)': first ? `${ms(first.offsetMs)} (${first.sinceStart.toFixed(2)})` : '—',
          'beeps 1–5 mean ms': ms(mean(start)),
          'beeps 1–5 min…max ms': start.length ? `${ms(Math.min(...start))}…${ms(Math.max(...start))}` : '—',
          'steady median ms (n)': `${ms(median(steady))} (${steady.length})`,
          'audio holes + / overlaps −': gapsText(hls.gaps),
          runs: hls.runs,
          'baseline median ms (min…max)': base ? `${ms(baseline)} (${ms(Math.min(...base.offsets.map((o) => o.offsetMs)))}…${ms(Math.max(...base.offsets.map((o) => o.offsetMs)))})` : '—',
          'beep clock ± ms (late renders, slips ms)': `${ms(hls.beepClock.uncertaintyMs)} (${hls.beepClock.late}, ${hls.beepClock.deviceSlips ? `${hls.beepClock.deviceSlips}: ${ms(hls.beepClock.slipMs)}` : 0})`,
          'video spread ms': ms(median(hls.offsets.map((o) => o.videoSpreadMs))),
          'audio lost − / added + between beeps ms': stepsText(hls.offsets),
          'video jumps ms@s': hls.videoJumps.length ? hls.videoJumps.map((g) => `${g.ms.toFixed(0)}@${g.at.toFixed(2)}`).join(' ') : 'none',
        });
        console.error(`start ${i}: ${JSON.stringify(rows.at(-1))}`);
      } catch (error) {
        summary.failed++;
        rows.push({ start: `${i} (failed: ${error instanceof Error ? error.message : String(error)})` });
        console.error(`start ${i} failed:`, error);
      } finally {
        await page.getByTestId('stop').click({ timeout: 5000 }).catch(() => undefined);
        await context.close();
      }
    }
    // Every row gets every column (printTable takes the first row's; a failed start has only one).
    const columns = [...new Set(rows.flatMap((r) => Object.keys(r)))];
    const table = rows.map((r) => Object.fromEntries(columns.map((c) => [c, r[c] ?? '—'])));
    printTable(`A/V offset of LL-HLS at stream start (audio late +), ${STARTS} starts × ${SECONDS} s; load ${loadBefore} → ${load()}`, table);
    const worst = (values: number[]) => (values.length ? values.reduce((w, v) => (Math.abs(v) > Math.abs(w) ? v : w)) : NaN);
    printTable('Summary over starts (ms)', [
      { measure: 'first beep', median: ms(median(summary.first)), worst: ms(worst(summary.first)), [`starts within ±${LIMIT_MS}`]: `${summary.first.filter((v) => Math.abs(v) <= LIMIT_MS).length}/${summary.first.length}` },
      { measure: 'beeps 1–5 mean', median: ms(median(summary.start)), worst: ms(worst(summary.start)), [`starts within ±${LIMIT_MS}`]: `${summary.start.filter((v) => Math.abs(v) <= LIMIT_MS).length}/${summary.start.length}` },
      { measure: 'steady (later beeps, median)', median: ms(median(summary.steady)), worst: ms(worst(summary.steady)), [`starts within ±${LIMIT_MS}`]: `${summary.steady.filter((v) => Math.abs(v) <= LIMIT_MS).length}/${summary.steady.length}` },
      { measure: 'baseline (MediaRecorder, median)', median: ms(median(summary.baseline)), worst: ms(worst(summary.baseline)), [`starts within ±${LIMIT_MS}`]: '—' },
    ]);
    const counted = STARTS - summary.failed - summary.unmeasurable;
    console.log(`\nstarts counted: ${counted}; with audio holes/overlaps: ${summary.withGaps}/${counted}; page too disturbed to measure: ${summary.unmeasurable}; failed: ${summary.failed}`);
  } finally {
    await browser.close();
    await server.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  runAvSync().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
