import dgram from 'node:dgram';
import type { Logger } from '../../logger.js';
import type { SenderClocks, SenderReport } from '../../channel/sender-clocks.js';

const RTCP_SR = 200;
const SR_BYTES = 28;

/** An RTCP sender report without report blocks (RFC 3550 §6.4.1). */
export function senderReportPacket(report: SenderReport): Buffer {
  const packet = Buffer.alloc(SR_BYTES);
  packet[0] = 0x80; // version 2, no padding, no report blocks
  packet[1] = RTCP_SR;
  packet.writeUInt16BE(SR_BYTES / 4 - 1, 2);
  packet.writeUInt32BE(report.ssrc, 4);
  packet.writeUInt32BE(report.ntpSec, 8);
  packet.writeUInt32BE(report.ntpFrac, 12);
  packet.writeUInt32BE(report.rtpTs >>> 0, 16);
  packet.writeUInt32BE(report.packetCount >>> 0, 20);
  packet.writeUInt32BE(report.octetCount >>> 0, 24);
  return packet;
}

/** The SSRC of the first packet of a compound RTCP datagram if it is a sender report. */
export function senderReportSsrc(datagram: Buffer): number | null {
  if (datagram.length < SR_BYTES || datagram[0]! >> 6 !== 2 || datagram[1] !== RTCP_SR) return null;
  return datagram.readUInt32BE(4);
}

/** One RTP stream FFmpeg reads: whose reports it needs, under which SSRC, on which RTCP port. */
export interface ClockLeg {
  kind: 'audio' | 'video';
  /** The source's SSRC (its reports come under it); null when it has several (simulcast). */
  sourceSsrc: number | null;
  /** The consumer's SSRC: what FFmpeg receives RTP under (timestamps are the source's). */
  consumerSsrc: number;
  /** FFmpeg's RTCP port for this stream. */
  rtcpPort: number;
  /** The stream's RTP clock rate (Hz): a report's timestamp is read in it. */
  clockRate: number;
}

const NTP_FRACTION = 2 ** 32;
/** Share of a report's disagreement with the clock FFmpeg has that one report corrects. */
const STEADY_GAIN = 0.25;
/** At most this much (s) per report: a step FFmpeg makes in the stream's timeline, a hole or overlap in audio. */
const MAX_STEP_S = 0.001;
/** A disagreement beyond this (s) is a new clock (the source restarted its timestamps), not jitter: taken as is. */
const NEW_CLOCK_S = 0.2;

/**
 * The report to give FFmpeg after `previous` (the last one it got for this stream) when the source
 * reports `next`. FFmpeg re-dates a stream at every report, so each report's own error becomes a
 * step in the timeline: a browser stamps a report's wall clock and RTP timestamp at slightly
 * different moments (8 ms apart once on a loaded machine), an audible hole in the audio. The
 * clock FFmpeg has is moved towards the source's by a quarter of their disagreement and at most
 * 1 ms per report: jitter is averaged out, and clock drift (tens of ppm, well under 1 ms between
 * reports) is followed a little behind (4 × the drift between reports: 2 ms at 100 ppm).
 */
export function steadiedReport(previous: SenderReport, next: SenderReport, clockRate: number): SenderReport {
  const elapsed = (next.rtpTs - previous.rtpTs) | 0; // RTP timestamps wrap at 2^32
  const predicted = previous.ntpSec + previous.ntpFrac / NTP_FRACTION + elapsed / clockRate;
  const reported = next.ntpSec + next.ntpFrac / NTP_FRACTION;
  const disagreement = reported - predicted;
  if (Math.abs(disagreement) > NEW_CLOCK_S) return next;
  const time = predicted + Math.max(-MAX_STEP_S, Math.min(MAX_STEP_S, disagreement * STEADY_GAIN));
  const ntpSec = Math.floor(time);
  const ntpFrac = Math.min(NTP_FRACTION - 1, Math.round((time - ntpSec) * NTP_FRACTION));
  return { ...next, ntpSec, ntpFrac };
}

/**
 * Gives FFmpeg the broadcaster's own sender reports instead of mediasoup's. FFmpeg's RTP demuxer
 * dates packets by the latest report of each stream, and before the first one by the stream's
 * first packet. mediasoup's reports to a consumer map timestamps to the time packets arrived, so
 * every report moved the streams by the network and encoder jitter ("Non-monotonous DTS"), and the
 * first one made audio jump at start (a hole or an overlap, then tens of ms out of sync). The
 * source's reports map timestamps to its capture clock. mediasoup's RTCP for FFmpeg lands on this
 * relay's socket; FFmpeg is primed with the source's latest report for every stream before any RTP
 * reaches it (the caller keeps the consumers paused until then), and each new report follows.
 * A source that sends no reports in time gets mediasoup's for that stream, as before.
 */
export class SenderReportRelay {
  private legs: ClockLeg[] = [];
  /** Per FFmpeg run: which reports each leg gets (undefined: not primed yet, nothing is sent). */
  private readonly modes = new Map<ClockLeg, 'source' | 'mediasoup'>();
  /** Per FFmpeg run: the last source report each leg got (in the source's SSRC), which the next is steadied against. */
  private readonly lastSent = new Map<ClockLeg, SenderReport>();
  private readonly unsubscribe: () => void;

  private constructor(
    private readonly socket: dgram.Socket,
    private readonly clocks: SenderClocks,
    private readonly logger: Logger,
  ) {
    socket.on('message', (datagram) => this.fromMediasoup(datagram));
    // A send to an FFmpeg that just died fails with ECONNREFUSED; the next FFmpeg is primed anew.
    socket.on('error', (error) => logger.debug({ err: error }, 'sender report relay socket error'));
    this.unsubscribe = clocks.subscribe((_kind, report) => {
      for (const leg of this.legs) {
        if (leg.sourceSsrc !== report.ssrc || this.modes.get(leg) !== 'source') continue;
        // Audio only: a step in audio is a hole or an overlap one hears; video's reports go on as
        // they come, so a first report's jitter in the video clock is corrected at the next one
        // (every second from Chromium) and not carried into the A/V offset for seconds.
        const previous = leg.kind === 'audio' ? this.lastSent.get(leg) : undefined;
        this.send(leg, previous && previous.ssrc === report.ssrc ? steadiedReport(previous, report, leg.clockRate) : report);
      }
    });
  }

  static async open(clocks: SenderClocks, logger: Logger): Promise<SenderReportRelay> {
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, '127.0.0.1', () => {
        socket.off('error', reject);
        resolve();
      });
    });
    return new SenderReportRelay(socket, clocks, logger);
  }

  /** Where mediasoup must send the RTCP meant for FFmpeg (the PlainTransports' rtcpPort). */
  get port(): number {
    return this.socket.address().port;
  }

  setLegs(legs: ClockLeg[]): void {
    this.legs = legs;
  }

  /**
   * Waits (up to `timeoutMs`) for a source report of every stream and sends them to a freshly
   * started FFmpeg; a stream without one by then gets mediasoup's reports for this FFmpeg's life.
   * Call while FFmpeg listens and before RTP flows to it. Resolves with the streams synced on the
   * source's clock.
   */
  async prime(timeoutMs: number, cancelled: () => boolean): Promise<ClockLeg['kind'][]> {
    this.modes.clear();
    this.lastSent.clear();
    const started = Date.now();
    const reportOf = (leg: ClockLeg) => (leg.sourceSsrc === null ? undefined : this.clocks.latest(leg.sourceSsrc));
    const missing = () => this.legs.filter((leg) => leg.sourceSsrc !== null && !reportOf(leg));
    while (missing().length > 0 && Date.now() - started < timeoutMs && !cancelled()) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const synced: ClockLeg['kind'][] = [];
    for (const leg of this.legs) {
      const report = reportOf(leg);
      this.modes.set(leg, report ? 'source' : 'mediasoup');
      if (!report) continue;
      this.send(leg, report);
      synced.push(leg.kind);
    }
    const fallback = this.legs.filter((leg) => this.modes.get(leg) === 'mediasoup').map((leg) => leg.kind);
    if (fallback.length > 0) this.logger.warn({ waitedMs: Date.now() - started, kinds: fallback }, 'the source sent no RTCP sender report in time; HLS syncs these tracks on arrival times');
    else this.logger.info({ waitedMs: Date.now() - started }, 'hls synced on the source clock (its RTCP sender reports)');
    return synced;
  }

  close(): void {
    this.unsubscribe();
    this.socket.close();
  }

  private fromMediasoup(datagram: Buffer): void {
    const ssrc = senderReportSsrc(datagram);
    const leg = this.legs.find((l) => l.consumerSsrc === ssrc);
    if (leg && this.modes.get(leg) === 'mediasoup') this.socket.send(datagram, leg.rtcpPort, '127.0.0.1');
  }

  private send(leg: ClockLeg, report: SenderReport): void {
    this.lastSent.set(leg, report);
    this.socket.send(senderReportPacket({ ...report, ssrc: leg.consumerSsrc }), leg.rtcpPort, '127.0.0.1');
  }
}
