import type { types } from 'mediasoup';

/** What a key-frame request goes through: a video consumer (its PLI reaches the source through mediasoup). */
export type KeyFrameTarget = Pick<types.Consumer, 'closed' | 'requestKeyFrame'>;

/** Chromium's encoder ignores a key-frame request less than ~300 ms after the previous key frame. */
const SENDER_MIN_KEY_FRAME_INTERVAL_MS = 350;

/**
 * Key-frame requests for one channel (the HLS beat, new real-time viewers, relays) go through
 * here. A request the sender ignores is worse than none: mediasoup then holds it as pending and
 * swallows further ones for a second (a new viewer stares at a black picture, a segment doubles
 * in length); so a request that would land too early is held until the window has passed.
 */
export class KeyFrameTiming {
  private lastKeyFrameAt = 0;
  private timer: NodeJS.Timeout | null = null;
  /** Held requests, one per consumer: each simulcast layer's consumer asks for its own layer's key frame. */
  private readonly pending = new Set<KeyFrameTarget>();

  /** The source's video sent a key frame (mediasoup 'keyframe' trace). */
  noteKeyFrame(): void {
    this.lastKeyFrameAt = Date.now();
  }

  request(via: KeyFrameTarget): void {
    const wait = this.waitMs();
    if (wait <= 0) return void via.requestKeyFrame().catch(() => undefined);
    this.pending.add(via);
    this.timer ??= setTimeout(() => {
      this.timer = null;
      for (const consumer of this.pending) if (!consumer.closed) void consumer.requestKeyFrame().catch(() => undefined);
      this.pending.clear();
    }, wait);
  }

  /** Resolves once a key-frame request would be honoured. */
  window(): Promise<void> {
    const wait = this.waitMs();
    return wait > 0 ? new Promise((resolve) => setTimeout(resolve, wait)) : Promise.resolve();
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.pending.clear();
  }

  private waitMs(): number {
    return SENDER_MIN_KEY_FRAME_INTERVAL_MS - (Date.now() - this.lastKeyFrameAt);
  }
}
