import type { LlPackager } from './ll-packager.js';
import type { LlHlsStream } from './ll-stream.js';

/** An ended channel's stream stays served this many target durations (its window and then some). */
const DRAIN_TARGET_DURATIONS = 12;

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

  /** A channel's stream ends (EXT-X-ENDLIST): served a while longer if it ever was, closed otherwise. */
  endStream(channelId: string, packager: LlPackager, stream: LlHlsStream): void {
    packager.end();
    if (stream.ready) this.add(channelId, stream, DRAIN_TARGET_DURATIONS * packager.targetDuration * 1000);
    else stream.close();
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
