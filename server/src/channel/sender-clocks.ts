import { z } from 'zod';

/**
 * What an RTCP sender report says: the sender's RTP timestamp `rtpTs` was taken at wall-clock
 * `ntpSec`.`ntpFrac` (NTP format). The broadcaster stamps both from its capture clock, which is
 * what lip sync needs; mediasoup's own reports to consumers map timestamps to the time packets
 * *arrived* (jittery, and video arrives later than audio), so readers that care about A/V sync
 * use the source's reports instead.
 */
export const senderReportSchema = z.object({
  ssrc: z.number().int().nonnegative(),
  ntpSec: z.number().int().nonnegative(),
  ntpFrac: z.number().int().nonnegative(),
  rtpTs: z.number().int().nonnegative(),
  packetCount: z.number().int().nonnegative(),
  octetCount: z.number().int().nonnegative(),
});
export type SenderReport = z.infer<typeof senderReportSchema>;

type Kind = 'audio' | 'video';
type Listener = (kind: Kind, report: SenderReport) => void;

/**
 * The latest sender report of each of a channel's tracks (from mediasoup's 'sr' producer trace),
 * for readers that sync audio and video. A track with several encodings (simulcast) reports per
 * SSRC; readers pick theirs by SSRC.
 */
export class SenderClocks {
  private readonly latestBySsrc = new Map<number, { kind: Kind; report: SenderReport }>();
  private readonly listeners = new Set<Listener>();

  /** A 'sr' trace's info, as mediasoup hands it over (untyped): ignored unless well-formed. */
  note(kind: Kind, info: unknown): void {
    const parsed = senderReportSchema.safeParse(info);
    if (!parsed.success) return;
    const report = parsed.data;
    this.latestBySsrc.set(report.ssrc, { kind, report });
    for (const listener of this.listeners) listener(kind, report);
  }

  latest(ssrc: number): SenderReport | undefined {
    return this.latestBySsrc.get(ssrc)?.report;
  }

  /** Calls `listener` for every report from now on; returns the unsubscribe function. */
  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
