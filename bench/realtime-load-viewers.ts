/**
 * The load of bench:realtime-load, in its own process (its CPU is not the server's): many WHEP
 * players made with werift, a WebRTC stack in TypeScript this project did not write. Each is a
 * receive-only RTCPeerConnection (ICE, DTLS, SRTP, RTCP receiver reports, NACK and PLI) that
 * counts the RTP it receives and decodes nothing. It offers the channel router's payload types,
 * so its viewers take the same path as the watch page's (the channel's router or a fan-out router
 * on another worker), not the WHEP egress routers that translate payload types.
 *
 * Messages (IPC): { type: 'add', count } → { type: 'added', connected, failed, errors };
 * { type: 'stats' } → { type: 'stats', viewers, receiving, packets, bytes }; { type: 'close' }.
 */
import { RTCPeerConnection, RTCRtpCodecParameters } from 'werift';

export interface LoadTarget {
  baseUrl: string;
  channelId: string;
  video: { payloadType: number; fmtp: string };
  audio: { payloadType: number };
}

export type ToLoad = { type: 'add'; count: number } | { type: 'stats' } | { type: 'close' };
export type FromLoad =
  | { type: 'up' }
  | { type: 'added'; connected: number; failed: number; errors: string[] }
  | { type: 'stats'; viewers: number; receiving: number; packets: number; bytes: number };

interface Viewer {
  pc: RTCPeerConnection;
  location: string | null;
  packets: number;
  bytes: number;
  /** Packets counted at the last stats request (to tell who is still receiving). */
  seen: number;
}

const target = JSON.parse(process.argv[2] ?? '{}') as LoadTarget;
const viewers: Viewer[] = [];
/** Opened this many at a time: a real audience arrives over seconds, not in one instant. */
const CONCURRENCY = 8;
const CONNECT_TIMEOUT_MS = 20_000;

async function openViewer(): Promise<Viewer> {
  const pc = new RTCPeerConnection({
    codecs: {
      video: [
        new RTCRtpCodecParameters({
          mimeType: 'video/H264',
          clockRate: 90000,
          payloadType: target.video.payloadType,
          parameters: target.video.fmtp,
          rtcpFeedback: [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }],
        }),
      ],
      audio: [new RTCRtpCodecParameters({ mimeType: 'audio/opus', clockRate: 48000, channels: 2, payloadType: target.audio.payloadType })],
    },
  });
  const viewer: Viewer = { pc, location: null, packets: 0, bytes: 0, seen: 0 };
  pc.onTrack.subscribe((track) => {
    track.onReceiveRtp.subscribe((rtp) => {
      viewer.packets++;
      viewer.bytes += rtp.payload.length;
    });
  });
  pc.addTransceiver('video', { direction: 'recvonly' });
  pc.addTransceiver('audio', { direction: 'recvonly' });
  await pc.setLocalDescription(await pc.createOffer());
  // ICE candidates in the offer (WHEP without trickle): host candidates only, gathered at once.
  await new Promise<void>((resolve) => {
    if (pc.iceGatheringState === 'complete') return resolve();
    pc.iceGatheringStateChange.subscribe((state) => state === 'complete' && resolve());
  });
  const res = await fetch(`${target.baseUrl}/whep/${target.channelId}`, { method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body: pc.localDescription!.sdp });
  if (res.status !== 201) throw new Error(`WHEP ${res.status}: ${(await res.text()).slice(0, 200)}`);
  viewer.location = res.headers.get('location');
  await pc.setRemoteDescription({ type: 'answer', sdp: await res.text() });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no media within 20 s')), CONNECT_TIMEOUT_MS);
    const check = setInterval(() => {
      if (viewer.packets > 0) {
        clearTimeout(timer);
        clearInterval(check);
        resolve();
      }
    }, 50);
  });
  return viewer;
}

async function add(count: number): Promise<FromLoad> {
  let connected = 0;
  let failed = 0;
  const errors: string[] = [];
  let next = 0;
  const lane = async () => {
    while (next < count) {
      next++;
      try {
        viewers.push(await openViewer());
        connected++;
      } catch (error) {
        failed++;
        if (errors.length < 5) errors.push(String(error));
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, lane));
  return { type: 'added', connected, failed, errors };
}

function stats(): FromLoad {
  let receiving = 0;
  for (const v of viewers) {
    if (v.packets > v.seen) receiving++;
    v.seen = v.packets;
  }
  return { type: 'stats', viewers: viewers.length, receiving, packets: viewers.reduce((s, v) => s + v.packets, 0), bytes: viewers.reduce((s, v) => s + v.bytes, 0) };
}

async function close(): Promise<void> {
  await Promise.all(
    viewers.map(async (v) => {
      if (v.location) await fetch(new URL(v.location, target.baseUrl), { method: 'DELETE' }).catch(() => undefined);
      await v.pc.close().catch(() => undefined);
    }),
  );
  process.exit(0);
}

process.on('message', (message: ToLoad) => {
  const reply = (m: FromLoad) => process.send!(m);
  if (message.type === 'add') void add(message.count).then(reply);
  else if (message.type === 'stats') reply(stats());
  else void close();
});
process.on('disconnect', () => process.exit(0));
process.send!({ type: 'up' } satisfies FromLoad);
