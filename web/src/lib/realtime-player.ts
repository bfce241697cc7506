import { Device, type types } from 'mediasoup-client';
import type { Player, Quality } from './hls-player';
import { request, type ChannelSocket } from './signalling';

/** A real-time connection that is not up after this long is treated as failed (→ HLS). */
const CONNECT_TIMEOUT_MS = 8000;

/**
 * Watches a channel through mediasoup directly: router capabilities → consumer transport →
 * DTLS connect → consumers (created paused on the server) → resume once the tracks are attached.
 * Resolves when media flows; rejects if the connection cannot be made in time.
 */
export async function playRealtime(socket: ChannelSocket, video: HTMLVideoElement, onFailure: (message: string) => void): Promise<Player> {
  const { rtpCapabilities } = await request(socket, 'getRouterRtpCapabilities', {});
  const device = new Device();
  await device.load({ routerRtpCapabilities: rtpCapabilities });
  const options = await request(socket, 'createConsumerTransport', {});
  const transport = device.createRecvTransport(options);
  let stopped = false;
  let qualities: Quality[] = [];
  const stop = () => {
    if (stopped) return;
    stopped = true;
    transport.close();
    video.srcObject = null;
    if (socket.connected) void request(socket, 'stopConsuming', {}).catch(() => undefined);
  };
  try {
    transport.on('connect', ({ dtlsParameters }, done, fail) => {
      request(socket, 'connectConsumerTransport', { dtlsParameters }).then(() => done(), fail);
    });
    // Listen before the first consume: ICE and DTLS may complete while the consumers are set up.
    const connected = new Promise<void>((resolve, reject) => {
      if (transport.connectionState === 'connected') return resolve();
      const timer = setTimeout(() => reject(new Error('the real-time connection timed out')), CONNECT_TIMEOUT_MS);
      transport.on('connectionstatechange', (state) => {
        if (state === 'connected') {
          clearTimeout(timer);
          resolve();
        } else if (state === 'failed') {
          clearTimeout(timer);
          reject(new Error('the real-time connection failed'));
        }
      });
    });
    connected.catch(() => undefined); // awaited below; avoid an unhandled rejection meanwhile
    const { consumers, layers } = await request(socket, 'consume', { rtpCapabilities: device.rtpCapabilities });
    qualities = layers.map((layer) => ({ id: layer.spatialLayer, label: layer.height ? `${layer.height}p` : `Layer ${layer.spatialLayer + 1}` }));
    const tracks: MediaStreamTrack[] = [];
    for (const info of consumers) {
      const consumer = await transport.consume(info);
      tracks.push(consumer.track);
    }
    video.srcObject = new MediaStream(tracks);
    // The transport only starts connecting (ICE, DTLS) with its first consumer; resume now.
    await Promise.all(consumers.map((c) => request(socket, 'resumeConsumer', { consumerId: c.id })));
    await connected;
    transport.on('connectionstatechange', (state) => {
      if (!stopped && (state === 'failed' || state === 'disconnected' || state === 'closed')) onFailure('the real-time connection was lost');
    });
  } catch (error) {
    stop();
    throw error;
  }
  // Real time has no live edge to fall behind: frames are shown as they arrive.
  return {
    stop,
    behindLive: realtimeDelayMeter(transport),
    lagging: () => false,
    goLive: () => undefined,
    qualities: () => qualities,
    // The server pins the viewer's simulcast consumer (lower still if the bandwidth cannot carry it).
    setQuality: async (layer) => void (await request(socket, 'setQuality', { layer })),
  };
}

/**
 * What getStats says about delay: the jitter buffer (time frames wait before being shown,
 * averaged over the last interval) plus half the round trip. Capture and encoding are not
 * included; the ?clock probe measures the whole glass-to-glass path.
 */
function realtimeDelayMeter(transport: types.Transport): () => Promise<number | null> {
  let previous = { delay: 0, count: 0 };
  return async () => {
    const stats = await transport.getStats();
    let current: { delay: number; count: number } | null = null;
    let rtt = 0;
    stats.forEach((s: Record<string, unknown>) => {
      if (s.type === 'inbound-rtp' && s.kind === 'video') {
        current = { delay: Number(s.jitterBufferDelay ?? 0), count: Number(s.jitterBufferEmittedCount ?? 0) };
      } else if (s.type === 'candidate-pair' && s.nominated && typeof s.currentRoundTripTime === 'number') {
        rtt = s.currentRoundTripTime;
      }
    });
    const now = current as { delay: number; count: number } | null;
    if (!now || now.count <= previous.count) return null;
    const jitterBuffer = (now.delay - previous.delay) / (now.count - previous.count);
    previous = now;
    return jitterBuffer + rtt / 2;
  };
}
