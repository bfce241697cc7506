import dgram from 'node:dgram';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { SenderClocks, type SenderReport } from '../../channel/sender-clocks.js';
import { SenderReportRelay, senderReportPacket, senderReportSsrc, steadiedReport, type ClockLeg } from './sender-report-relay.js';

const logger = pino({ level: 'silent' });
const report = (ssrc: number, rtpTs: number): SenderReport => ({ ssrc, ntpSec: 3_970_000_000, ntpFrac: 2 ** 31, rtpTs, packetCount: 100, octetCount: 50_000 });

/** The fields of an RTCP SR as RFC 3550 §6.4.1 lays them out, read independently of the writer. */
function readSr(packet: Buffer) {
  return {
    version: packet[0]! >> 6,
    padding: (packet[0]! >> 5) & 1,
    reportCount: packet[0]! & 0x1f,
    packetType: packet[1],
    lengthWords: packet.readUInt16BE(2),
    ssrc: packet.readUInt32BE(4),
    ntp: packet.readBigUInt64BE(8),
    rtpTs: packet.readUInt32BE(16),
    packetCount: packet.readUInt32BE(20),
    octetCount: packet.readUInt32BE(24),
  };
}

describe('senderReportPacket', () => {
  it('writes an RFC 3550 sender report without report blocks', () => {
    const packet = senderReportPacket(report(0xdeadbeef, 0xfffffff0));
    expect(packet).toHaveLength(28);
    expect(readSr(packet)).toEqual({
      version: 2, padding: 0, reportCount: 0, packetType: 200, lengthWords: 6,
      ssrc: 0xdeadbeef, ntp: (3_970_000_000n << 32n) | 2n ** 31n, rtpTs: 0xfffffff0, packetCount: 100, octetCount: 50_000,
    });
    expect(senderReportSsrc(packet)).toBe(0xdeadbeef);
  });

  it('recognises only sender reports', () => {
    const receiverReport = Buffer.from(senderReportPacket(report(1, 1)));
    receiverReport[1] = 201;
    expect(senderReportSsrc(receiverReport)).toBeNull();
    expect(senderReportSsrc(Buffer.alloc(8))).toBeNull();
  });
});

describe('steadiedReport', () => {
  const NTP0 = 3_970_000_000;
  /** A 48 kHz report taken `seconds` after the first, its wall clock off by `errorMs`. */
  const at = (seconds: number, errorMs = 0): SenderReport => {
    const time = NTP0 + seconds + errorMs / 1000;
    const ntpSec = Math.floor(time);
    return { ssrc: 7, ntpSec, ntpFrac: Math.round((time - ntpSec) * 2 ** 32), rtpTs: (1_000 + seconds * 48_000) >>> 0, packetCount: 1, octetCount: 1 };
  };
  /** Where a report puts RTP timestamp 1000, relative to the first report (ms): the step FFmpeg makes. */
  const offsetMs = (r: SenderReport) => (r.ntpSec - NTP0 + r.ntpFrac / 2 ** 32 - ((r.rtpTs - 1_000) | 0) / 48_000) * 1000;

  it('keeps a steady clock as it is', () => {
    expect(offsetMs(steadiedReport(at(0), at(5), 48_000))).toBeCloseTo(0, 3);
  });

  it('moves the timeline at most 1 ms per report when one report is off by 8 ms (jitter), and comes back', () => {
    const steps: number[] = [];
    let sent = at(0);
    for (const [seconds, errorMs] of [[5, 8], [10, 0], [15, 0], [20, 0]] as const) {
      const next = steadiedReport(sent, at(seconds, errorMs), 48_000);
      steps.push(offsetMs(next) - offsetMs(sent));
      sent = next;
    }
    expect(steps.map((s) => Math.abs(s)).every((s) => s <= 1.0001)).toBe(true);
    expect(steps[0]).toBeCloseTo(1, 3);
    expect(Math.abs(offsetMs(sent))).toBeLessThan(0.5);
  });

  it('follows a drifting clock (100 ppm, 0.5 ms per report) 2 ms behind at most', () => {
    let sent = at(0);
    for (let i = 1; i <= 60; i++) sent = steadiedReport(sent, at(i * 5, i * 5 * 0.1), 48_000);
    expect(30 - offsetMs(sent)).toBeGreaterThan(0);
    expect(30 - offsetMs(sent)).toBeLessThanOrEqual(2);
  });

  it('takes a new clock (a jump over 200 ms) as it is, across the RTP timestamp wrap', () => {
    const previous = { ...at(0), rtpTs: 0xffff_ff00 };
    const next = { ...at(5, 500), rtpTs: (0xffff_ff00 + 5 * 48_000) >>> 0 };
    expect(steadiedReport(previous, next, 48_000)).toEqual(next);
    const steady = { ...at(5, 3), rtpTs: next.rtpTs };
    expect(offsetMs(steadiedReport(previous, steady, 48_000)) - offsetMs(previous)).toBeCloseTo(0.75, 2);
  });
});

describe('SenderReportRelay', () => {
  const cleanup: (() => void)[] = [];
  afterEach(() => cleanup.splice(0).forEach((f) => f()));

  /** A UDP socket standing in for FFmpeg's RTCP port; collects what arrives. */
  async function rtcpPort() {
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    cleanup.push(() => socket.close());
    const received: Buffer[] = [];
    socket.on('message', (m) => received.push(m));
    return { port: socket.address().port, received };
  }

  async function setup() {
    const clocks = new SenderClocks();
    const relay = await SenderReportRelay.open(clocks, logger);
    cleanup.push(() => relay.close());
    const [video, audio] = [await rtcpPort(), await rtcpPort()];
    const legs: ClockLeg[] = [
      { kind: 'video', sourceSsrc: 1111, consumerSsrc: 9001, rtcpPort: video.port, clockRate: 90_000 },
      { kind: 'audio', sourceSsrc: 2222, consumerSsrc: 9002, rtcpPort: audio.port, clockRate: 48_000 },
    ];
    relay.setLegs(legs);
    /** mediasoup's own reports arrive on the relay's port. */
    const mediasoup = dgram.createSocket('udp4');
    cleanup.push(() => mediasoup.close());
    const fromMediasoup = (ssrc: number) => mediasoup.send(senderReportPacket(report(ssrc, 5)), relay.port, '127.0.0.1');
    return { clocks, relay, video, audio, fromMediasoup };
  }

  const settle = () => new Promise((resolve) => setTimeout(resolve, 50));

  it('waits for the source reports of every stream, then gives FFmpeg those (under the consumer SSRC), and every later one', async () => {
    const { clocks, relay, video, audio, fromMediasoup } = await setup();
    clocks.note('video', report(1111, 1000));
    const priming = relay.prime(2000, () => false);
    await settle();
    // Nothing before every stream has a report: FFmpeg would date the other stream by its first packet.
    expect(video.received).toHaveLength(0);
    clocks.note('audio', report(2222, 480));
    await expect(priming).resolves.toEqual(['video', 'audio']);
    await settle();
    expect(video.received.map((p) => readSr(p))).toMatchObject([{ ssrc: 9001, rtpTs: 1000 }]);
    expect(audio.received.map((p) => readSr(p))).toMatchObject([{ ssrc: 9002, rtpTs: 480 }]);

    clocks.note('audio', report(2222, 48_480));
    fromMediasoup(9002); // mediasoup's arrival-time reports are not passed on
    await settle();
    expect(audio.received.map((p) => readSr(p).rtpTs)).toEqual([480, 48_480]);
    expect(video.received).toHaveLength(1);
  });

  it('steadies the audio reports it passes on, not the video ones', async () => {
    const { clocks, relay, video, audio } = await setup();
    clocks.note('video', report(1111, 0));
    clocks.note('audio', report(2222, 0));
    await relay.prime(2000, () => false);
    // One second later by the RTP clocks, each report's wall clock 8 ms late (jitter).
    const late = (ssrc: number, rtpTs: number): SenderReport => ({ ...report(ssrc, rtpTs), ntpSec: 3_970_000_001, ntpFrac: Math.round((0.5 + 0.008) * 2 ** 32) });
    clocks.note('video', late(1111, 90_000));
    clocks.note('audio', late(2222, 48_000));
    await settle();
    const ntpMs = (p: Buffer) => Number(readSr(p).ntp >> 32n) * 1000 + (Number(readSr(p).ntp & 0xffffffffn) / 2 ** 32) * 1000;
    const stepMs = (packets: Buffer[]) => ntpMs(packets[1]!) - ntpMs(packets[0]!) - 1000;
    expect(stepMs(video.received)).toBeCloseTo(8, 1);
    expect(stepMs(audio.received)).toBeCloseTo(1, 1);
  });

  it("falls back to mediasoup's reports for a stream whose source sends none in time", async () => {
    const { clocks, relay, video, audio, fromMediasoup } = await setup();
    clocks.note('video', report(1111, 1000));
    await expect(relay.prime(100, () => false)).resolves.toEqual(['video']);
    fromMediasoup(9002);
    fromMediasoup(9001);
    clocks.note('audio', report(2222, 480)); // too late for this FFmpeg: mixing two clocks would make audio jump
    await settle();
    expect(audio.received.map((p) => readSr(p).rtpTs)).toEqual([5]);
    expect(video.received.map((p) => readSr(p).rtpTs)).toEqual([1000]);
  });

  it('sends nothing before it is primed, and primes a restarted FFmpeg with the latest reports at once', async () => {
    const { clocks, relay, video, audio } = await setup();
    clocks.note('video', report(1111, 1000));
    clocks.note('audio', report(2222, 480));
    await settle();
    expect(video.received).toHaveLength(0);
    await relay.prime(2000, () => false);
    clocks.note('video', report(1111, 91_000));
    await relay.prime(2000, () => false);
    await settle();
    expect(video.received.map((p) => readSr(p).rtpTs)).toEqual([1000, 91_000, 91_000]);
    expect(audio.received.map((p) => readSr(p).rtpTs)).toEqual([480, 480]);
  });
});

describe('SenderClocks', () => {
  it('keeps the latest well-formed report per SSRC and tells subscribers', () => {
    const clocks = new SenderClocks();
    const heard: string[] = [];
    const unsubscribe = clocks.subscribe((kind, r) => heard.push(`${kind}:${r.rtpTs}`));
    clocks.note('video', report(1, 10));
    clocks.note('video', { ssrc: 1, ntpSec: 'x' });
    clocks.note('video', undefined);
    clocks.note('video', report(1, 20));
    unsubscribe();
    clocks.note('audio', report(2, 30));
    expect(heard).toEqual(['video:10', 'video:20']);
    expect(clocks.latest(1)?.rtpTs).toBe(20);
    expect(clocks.latest(2)?.rtpTs).toBe(30);
  });
});
