import type { Page } from '@playwright/test';
import type { WHIPClient } from '@eyevinn/whip-web-client';
import type { WHEPClient } from 'whip-whep/whep.js';
import type { createTestSource } from '../web/src/lib/test-source.js';
import type { probeLatency } from '../web/src/lib/latency-probe.js';
import { bundleForPage } from './page-bundle.js';

/**
 * WHIP and WHEP clients written by others, run in Chromium on a blank page (openBlankPageWith):
 * Eyevinn's WHIP client (@eyevinn/whip-web-client) and medooze's WHEP client (whip-whep, by one
 * of the WHEP draft's authors). Shared by the WHIP, WHEP and HTTPS tests and by the WHIP/WHEP
 * benchmark, so that all of them drive the clients the same way.
 */
declare global {
  interface Window {
    WHIPClient: typeof WHIPClient;
    whip?: WHIPClient;
    WHEPClient: typeof WHEPClient;
    whep?: WHEPClient;
    whepPc?: RTCPeerConnection;
    /** Only in bundles made with `withTestSource` (the benchmark): the go-live page's test pattern. */
    createTestSource?: typeof createTestSource;
    /** Only in bundles made with `withTestSource`: the watch page's clock reader. */
    probeLatency?: typeof probeLatency;
  }
}

/**
 * The WHIP client's bundle; `withTestSource` adds the go-live page's clock-painting test source
 * and the watch page's clock reader (web/src/lib), bundled from the same files the app uses.
 */
export function whipClientBundle({ withTestSource = false } = {}): Promise<string> {
  return bundleForPage(
    "import { WHIPClient } from '@eyevinn/whip-web-client'; window.WHIPClient = WHIPClient;" +
      (withTestSource ? "import { createTestSource } from './web/src/lib/test-source.ts'; window.createTestSource = createTestSource;" : ''),
  );
}

/** The WHEP client's bundle; `withClockReader` adds the watch page's clock reader (web/src/lib/latency-probe.ts). */
export function whepClientBundle({ withClockReader = false } = {}): Promise<string> {
  return bundleForPage(
    "import { WHEPClient } from 'whip-whep/whep.js'; window.WHEPClient = WHEPClient;" +
      (withClockReader ? "import { probeLatency } from './web/src/lib/latency-probe.ts'; window.probeLatency = probeLatency;" : ''),
  );
}

/**
 * The WHIP client publishes `source` (the fake camera and microphone, or the clock-painting test
 * source of a bundle made `withTestSource`); resolves with its session (resource) URL.
 */
export function whipIngest(page: Page, endpoint: string, key: string, source: 'camera' | 'test-source' = 'camera'): Promise<string | undefined> {
  return page.evaluate(
    async ({ endpoint, key, source }) => {
      const stream =
        source === 'test-source'
          ? window.createTestSource!().stream
          : await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: true });
      // No STUN server: nothing outside this machine; the server's answer carries its candidates.
      const client = new window.WHIPClient({ endpoint, opts: { authkey: key, iceServers: [] } });
      window.whip = client;
      await client.ingest(stream);
      return client.getResourceUrl();
    },
    { endpoint, key, source },
  );
}

/**
 * The WHEP client plays `endpoint` into the blank page's <video data-testid=player>, with a
 * receive-only audio and video transceiver as a standard player offers them.
 */
export async function whepView(page: Page, endpoint: string): Promise<void> {
  await page.evaluate(async (endpoint) => {
    const pc = new RTCPeerConnection({ iceServers: [] });
    pc.addTransceiver('audio', { direction: 'recvonly' });
    pc.addTransceiver('video', { direction: 'recvonly' });
    const video = document.querySelector('video')!;
    const stream = new MediaStream();
    pc.ontrack = (event) => {
      stream.addTrack(event.track);
      video.srcObject = stream;
    };
    const client = new window.WHEPClient();
    window.whep = client;
    window.whepPc = pc;
    await client.view(pc, endpoint);
  }, endpoint);
}
