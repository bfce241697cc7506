import * as mediasoup from 'mediasoup';
import type { types } from 'mediasoup';
import { afterEach, describe, expect, it } from 'vitest';
import { routerMediaCodecs } from '../src/media/codecs.js';
import { waitForExit } from './helpers/processes.js';

describe('mediasoup worker built for this machine', () => {
  let worker: types.Worker | undefined;
  afterEach(() => worker?.close());

  it('runs a router with Opus, H264 and VP8 and WebRTC + plain transports on 127.0.0.1', async () => {
    worker = await mediasoup.createWorker({ logLevel: 'warn' });
    expect(worker.pid).toBeGreaterThan(0);

    const router = await worker.createRouter({ mediaCodecs: routerMediaCodecs });
    const mimeTypes = router.rtpCapabilities.codecs!.map((c) => c.mimeType);
    expect(mimeTypes).toEqual(expect.arrayContaining(['audio/opus', 'video/H264', 'video/VP8']));

    const webrtc = await router.createWebRtcTransport({ listenInfos: [{ protocol: 'udp', ip: '127.0.0.1' }] });
    expect(webrtc.iceCandidates[0]).toMatchObject({ address: '127.0.0.1', protocol: 'udp' });
    expect(webrtc.dtlsParameters.fingerprints.length).toBeGreaterThan(0);

    const plain = await router.createPlainTransport({ listenInfo: { protocol: 'udp', ip: '127.0.0.1' }, rtcpMux: false });
    expect(plain.tuple.localAddress).toBe('127.0.0.1');
    expect(plain.rtcpTuple?.localPort).toBeGreaterThan(0);

    const dump = await worker.dump();
    expect(dump.routerIds).toEqual([router.id]);

    webrtc.close();
    plain.close();
    expect(webrtc.closed && plain.closed).toBe(true);
    router.close();
    expect((await worker.dump()).routerIds).toEqual([]);

    worker.close();
    expect(await waitForExit(worker.pid)).toBe(true);
  });
});
