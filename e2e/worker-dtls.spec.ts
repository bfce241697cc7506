/**
 * Proof that the offline-built mediasoup worker really works: Chromium (fake camera + mic) runs
 * mediasoup-client against a WebRtcTransport of a worker started here, completes ICE and DTLS, and
 * sends RTP that the producers receive. Only a real DTLS peer exercises the DtlsTransport patch
 * of scripts/mediasoup-worker/build.sh: without it the worker segfaults at the ClientHello.
 */
import { build } from 'esbuild';
import * as mediasoup from 'mediasoup';
import type { types } from 'mediasoup';
import { expect, test } from '@playwright/test';
import { routerMediaCodecs } from '../server/src/media/codecs.js';

let worker: types.Worker;

test.beforeAll(async () => {
  worker = await mediasoup.createWorker({ logLevel: 'warn' });
});
test.afterAll(() => worker.close());

async function mediasoupClientBundle(): Promise<string> {
  const out = await build({
    stdin: { contents: "export * from 'mediasoup-client';", resolveDir: process.cwd() },
    bundle: true,
    format: 'iife',
    globalName: 'mediasoupClient',
    platform: 'browser',
    write: false,
    logLevel: 'silent',
  });
  return out.outputFiles[0]!.text;
}

test('Chromium completes ICE + DTLS with the worker and its RTP reaches the producers', async ({ page }) => {
  let died = false;
  worker.once('died', () => (died = true));
  const router = await worker.createRouter({ mediaCodecs: routerMediaCodecs });
  const transport = await router.createWebRtcTransport({ listenInfos: [{ protocol: 'udp', ip: '127.0.0.1' }] });
  const producers: types.Producer[] = [];

  // localhost is a secure context (getUserMedia needs one); the page itself is empty.
  await page.route('http://localhost/', (route) => route.fulfill({ contentType: 'text/html', body: '<!doctype html><title>dtls</title>' }));
  await page.goto('http://localhost/');
  await page.addScriptTag({ content: await mediasoupClientBundle() });
  await page.exposeFunction('connectOnServer', (dtlsParameters: types.DtlsParameters) => transport.connect({ dtlsParameters }));
  await page.exposeFunction('produceOnServer', async (kind: types.MediaKind, rtpParameters: types.RtpParameters) => {
    const producer = await transport.produce({ kind, rtpParameters });
    producers.push(producer);
    return producer.id;
  });

  const kinds = await page.evaluate(
    async ({ routerRtpCapabilities, options }) => {
      const w = window as unknown as {
        mediasoupClient: typeof import('mediasoup-client');
        connectOnServer(d: unknown): Promise<void>;
        produceOnServer(k: string, r: unknown): Promise<string>;
      };
      const device = new w.mediasoupClient.Device();
      await device.load({ routerRtpCapabilities });
      const send = device.createSendTransport(options);
      send.on('connect', ({ dtlsParameters }, done, fail) => void w.connectOnServer(dtlsParameters).then(done, fail));
      send.on('produce', ({ kind, rtpParameters }, done, fail) =>
        void w.produceOnServer(kind, rtpParameters).then((id) => done({ id }), fail),
      );
      const stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: true });
      const kinds: string[] = [];
      for (const track of stream.getTracks()) kinds.push((await send.produce({ track })).kind);
      return kinds;
    },
    {
      routerRtpCapabilities: router.rtpCapabilities as import('mediasoup-client').types.RtpCapabilities,
      options: {
        id: transport.id,
        iceParameters: transport.iceParameters,
        iceCandidates: transport.iceCandidates,
        dtlsParameters: transport.dtlsParameters,
      },
    },
  );
  expect(kinds.sort()).toEqual(['audio', 'video']);

  await expect.poll(() => transport.dtlsState).toBe('connected');
  expect(transport.iceState).toMatch(/connected|completed/);
  for (const producer of producers) {
    await expect
      .poll(async () => (await producer.getStats()).reduce((bytes, s) => bytes + s.byteCount, 0), {
        message: `${producer.kind} producer receives RTP`,
      })
      .toBeGreaterThan(10_000);
  }
  expect(died).toBe(false);
  router.close();
});
