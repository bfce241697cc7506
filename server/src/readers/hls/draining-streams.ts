import type { LlHlsStream } from './ll-stream.js';

/**
 * Streams of ended channels, still served for a while: their final playlist (with
 * EXT-X-ENDLIST) and their last segments let players and CDNs drain instead of meeting 404s.
 */
export class DrainingStreams {
  private readonly streams = new Map<string, { stream: LlHlsStream; timer: NodeJS.Timeout }>();

  add(channelId: string, stream: LlHlsStream, forMs: number): void {
    this.remove(channelId);
    const timer = setTimeout(() => this.remove(channelId), forMs);
    timer.unref();
    this.streams.set(channelId, { stream, timer });
  }

  get(channelId: string): LlHlsStream | undefined {
    return this.streams.get(channelId)?.stream;
  }

  get size(): number {
    return this.streams.size;
  }

  private remove(channelId: string): void {
    const entry = this.streams.get(channelId);
    if (!entry) return;
    clearTimeout(entry.timer);
    entry.stream.close();
    this.streams.delete(channelId);
  }

  close(): void {
    for (const channelId of [...this.streams.keys()]) this.remove(channelId);
  }
}
