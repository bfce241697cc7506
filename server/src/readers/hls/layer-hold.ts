const MIN_LAYER_HOLD_MS = 20_000;
const MAX_LAYER_HOLD_MS = 300_000;

/**
 * How long HLS stays on a lower simulcast layer after the top one dropped: twice as long as the
 * last time (20 s at first, at most 5 minutes), back to 20 s once the top layer had lasted longer
 * than the longest hold.
 */
export function nextLayerHoldMs(previousHoldMs: number, topLastedMs: number): number {
  if (topLastedMs > MAX_LAYER_HOLD_MS) return MIN_LAYER_HOLD_MS;
  return Math.min(MAX_LAYER_HOLD_MS, Math.max(MIN_LAYER_HOLD_MS, previousHoldMs * 2));
}

/** What LayerFollower needs of a mediasoup simulcast consumer. */
export interface LayeredConsumer {
  readonly closed: boolean;
  readonly currentLayers?: { spatialLayer: number } | undefined;
  on(event: 'layerschange', listener: (layers?: { spatialLayer: number }) => void): unknown;
  setPreferredLayers(layers: { spatialLayer: number }): Promise<void>;
}

export interface LayerEvents {
  /** The first layer the consumer forwards: mediasoup dates the consumer's timestamps by it. */
  onFirst(layer: number): void;
  /** Another layer is forwarded now (`holdMs`: how long it is pinned, after a drop from the top). */
  onSwitch(from: number, to: number, holdMs: number | null): void;
}

/**
 * Follows the simulcast layer a consumer forwards, for HLS: after the top layer drops, the layer
 * below is pinned (preferred) for nextLayerHoldMs, then the top one is preferred again, so that a
 * flapping top layer does not switch HLS every few seconds. Attach it before the consumer is
 * resumed (its first layer is reported then).
 */
export class LayerFollower {
  private layer: number | null;
  private holdMs = 0;
  private onTopSince: number;
  private retry: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(
    private readonly consumer: LayeredConsumer,
    private readonly top: number,
    private readonly events: LayerEvents,
    private readonly now: () => number = Date.now,
  ) {
    this.layer = consumer.currentLayers?.spatialLayer ?? null;
    this.onTopSince = now();
    consumer.on('layerschange', (layers) => this.changed(layers?.spatialLayer ?? null));
  }

  /** The layer forwarded now (null before the first, or while none is). */
  get current(): number | null {
    return this.layer;
  }

  close(): void {
    this.closed = true;
    if (this.retry) clearTimeout(this.retry);
    this.retry = null;
  }

  private changed(now: number | null): void {
    // null: the source sends no layer at all (the source watch handles a silent broadcaster).
    if (this.closed || now === null || now === this.layer) return;
    const previous = this.layer;
    this.layer = now;
    let hold: number | null = null;
    if (now === this.top) this.onTopSince = this.now();
    else if (previous === this.top) {
      hold = this.holdMs = nextLayerHoldMs(this.holdMs, this.now() - this.onTopSince);
      this.pin(now, hold);
    }
    if (previous === null) this.events.onFirst(now);
    else this.events.onSwitch(previous, now, hold);
  }

  private pin(layer: number, holdMs: number): void {
    void this.consumer.setPreferredLayers({ spatialLayer: layer }).catch(() => undefined);
    if (this.retry) clearTimeout(this.retry);
    this.retry = setTimeout(() => {
      this.retry = null;
      if (!this.closed && !this.consumer.closed) void this.consumer.setPreferredLayers({ spatialLayer: this.top }).catch(() => undefined);
    }, holdMs);
    this.retry.unref();
  }
}
