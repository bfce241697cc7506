/**
 * Start quality: how soon after going live the broadcaster's encoder sends full resolution.
 * Chromium's bandwidth estimate starts low and its encoder starts small (320x180), climbing as
 * the estimate grows; livecast's go-live page asks for a start bitrate of 1 Mbit/s. The camera is
 * Chromium's fake 1280x720 device; the page's RTCPeerConnection is watched from outside the app
 * (an init script records it) and its outbound-rtp stats read every 100 ms from the moment of the
 * click: first encoded frame, first frame at full resolution, and the resolution after 1 s.
 * Baseline in the same run: the commit before the start bitrate (BENCH_BASELINE_REF).
 *
 *   npm run bench:start     BENCH_START_RUNS (default 5) fresh go-lives per server
 */
import { chromium, type Browser } from '@playwright/test';
import { chromiumLaunchOptions } from '../e2e/chromium.js';
import { MANY_CHANNELS, startBaselineServer } from './baseline-checkout.js';
import { median, printTable, startBenchServer } from './lib.js';

const RUNS = Number(process.env.BENCH_START_RUNS ?? 5);
const BASELINE_REF = process.env.BENCH_BASELINE_REF ?? '6dbd94f';
const FULL_WIDTH = 1280;
const WATCH_MS = 8000;

type Sample = { at: number; width: number; height: number; frames: number; bytes: number };

/** One go-live: stats samples, ms after the click. */
async function startOnce(browser: Browser, baseUrl: string): Promise<Sample[]> {
  const context = await browser.newContext({ baseURL: baseUrl });
  try {
    const page = await context.newPage();
    await page.addInitScript(() => {
      const Native = window.RTCPeerConnection;
      const seen: RTCPeerConnection[] = [];
      (window as unknown as { __pcs: RTCPeerConnection[] }).__pcs = seen;
      window.RTCPeerConnection = class extends Native {
        constructor(config?: RTCConfiguration) {
          super(config);
          seen.push(this);
        }
      };
    });
    await page.goto('/go-live');
    await page.locator('[data-testid=go-live]:enabled').waitFor({ timeout: 30_000 });
    await page.getByTestId('go-live').click();
    return await page.evaluate(async (watchMs) => {
      const clicked = performance.now();
      const samples: { at: number; width: number; height: number; frames: number; bytes: number }[] = [];
      while (performance.now() - clicked < watchMs) {
        for (const pc of (window as unknown as { __pcs: RTCPeerConnection[] }).__pcs) {
          const stats = await pc.getStats();
          stats.forEach((s: { type: string; kind?: string; frameWidth?: number; frameHeight?: number; framesEncoded?: number; bytesSent?: number }) => {
            if (s.type === 'outbound-rtp' && s.kind === 'video' && s.frameWidth) {
              samples.push({ at: performance.now() - clicked, width: s.frameWidth, height: s.frameHeight ?? 0, frames: s.framesEncoded ?? 0, bytes: s.bytesSent ?? 0 });
            }
          });
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      return samples;
    }, WATCH_MS);
  } finally {
    await context.close();
  }
}

function summarise(samples: Sample[]) {
  const first = samples[0];
  const full = samples.find((s) => s.width >= FULL_WIDTH);
  const atOneSecond = first ? [...samples].reverse().find((s) => s.at <= first.at + 1000) : undefined;
  return {
    firstFrameMs: first?.at ?? NaN,
    firstWidth: first ? `${first.width}x${first.height}` : '—',
    fullAfterFirstMs: first && full ? full.at - first.at : NaN,
    widthAfter1s: atOneSecond ? `${atOneSecond.width}x${atOneSecond.height}` : '—',
  };
}

async function measureServer(browser: Browser, label: string, baseUrl: string): Promise<Record<string, string | number>> {
  const runs = [];
  for (let i = 0; i < RUNS; i++) runs.push(summarise(await startOnce(browser, baseUrl)));
  const toFull = runs.map((r) => r.fullAfterFirstMs);
  const ms = (v: number) => (Number.isFinite(v) ? Math.round(v) : `> ${WATCH_MS}`);
  console.error(label, JSON.stringify(runs));
  return {
    server: label,
    runs: RUNS,
    'first frames at': [...new Set(runs.map((r) => r.firstWidth))].join(', '),
    'resolution 1 s after the first frame': [...new Set(runs.map((r) => r.widthAfter1s))].join(', '),
    'to full res p50 ms': ms(median(toFull.map((v) => (Number.isNaN(v) ? Infinity : v)))),
    'to full res worst ms': ms(Math.max(...toFull.map((v) => (Number.isNaN(v) ? Infinity : v)))),
    'never full in 8 s': toFull.filter((v) => Number.isNaN(v)).length,
  };
}

export async function runStartQuality(): Promise<void> {
  const browser = await chromium.launch(chromiumLaunchOptions);
  const rows = [];
  try {
    if (BASELINE_REF) {
      const baseline = await startBaselineServer(BASELINE_REF);
      try {
        rows.push(await measureServer(browser, `${baseline.commit.slice(0, 7)} (baseline, no start bitrate)`, baseline.url));
      } finally {
        await baseline.stop();
      }
    }
    const server = await startBenchServer({ ...MANY_CHANNELS, RTC_MIN_PORT: '40000', RTC_MAX_PORT: '44999' }, { web: true });
    try {
      rows.push(await measureServer(browser, 'livecast (start bitrate 1 Mbit/s)', server.app.url));
    } finally {
      await server.stop();
    }
  } finally {
    await browser.close();
  }
  printTable(`Start quality: fake camera 1280x720, outbound-rtp every 100 ms for ${WATCH_MS / 1000} s after go-live`, rows);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  runStartQuality().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
