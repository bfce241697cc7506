/** What the watch reads of a producer (mediasoup's Producer has it). */
export interface PacketCounter {
  getStats(): Promise<{ packetCount: number }[]>;
}

export interface SourceWatchOptions {
  /** A source that sends nothing for this long (from its first track, or since its last packet) is silent. */
  timeoutMs: number;
  intervalMs?: number;
  onFirstMedia: () => void;
  onSilent: (reason: string) => void;
}

/**
 * Whether a channel's source really sends media, from the packet counts mediasoup keeps for its
 * producers. Signalling alone proves nothing: a client can create a transport with a made-up DTLS
 * fingerprint and `produce` with made-up parameters, never start ICE, and hold a router, an FFmpeg
 * and four ports for as long as its socket stays open.
 */
export class SourceWatch {
  private packets = 0;
  private startedAt = 0;
  private lastMediaAt = 0;
  private timer: NodeJS.Timeout | null = null;
  private readonly intervalMs: number;

  constructor(
    private readonly producers: () => PacketCounter[],
    private readonly o: SourceWatchOptions,
  ) {
    this.intervalMs = o.intervalMs ?? 1000;
  }

  /** Starts the clock (at the source's first track); later calls do nothing. */
  start(): void {
    if (this.startedAt) return;
    this.startedAt = Date.now();
    this.timer = setInterval(() => void this.poll(), this.intervalMs);
  }

  /** Media arrived within the last couple of polls. */
  get flowing(): boolean {
    return this.lastMediaAt > 0 && Date.now() - this.lastMediaAt <= 2 * this.intervalMs + 500;
  }

  get hasMedia(): boolean {
    return this.lastMediaAt > 0;
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private async poll(): Promise<void> {
    let packets = 0;
    for (const producer of this.producers()) {
      const stats = await producer.getStats().catch(() => []);
      for (const s of stats) packets += s.packetCount;
    }
    if (!this.timer) return;
    const now = Date.now();
    if (packets > this.packets) {
      const first = this.lastMediaAt === 0;
      this.packets = packets;
      this.lastMediaAt = now;
      if (first) this.o.onFirstMedia();
      return;
    }
    if (now - (this.lastMediaAt || this.startedAt) < this.o.timeoutMs) return;
    this.close();
    this.o.onSilent(this.lastMediaAt ? 'the broadcaster stopped sending media' : 'no media arrived from the broadcaster');
  }
}
