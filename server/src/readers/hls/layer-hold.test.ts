import { EventEmitter } from 'node:events';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LayerFollower, nextLayerHoldMs } from './layer-hold.js';

describe('nextLayerHoldMs', () => {
  it('holds a lower layer 20 s after a first drop, twice as long after each quick new drop, at most 5 minutes', () => {
    const holds: number[] = [];
    let hold = 0;
    for (let drop = 0; drop < 7; drop++) holds.push((hold = nextLayerHoldMs(hold, 10_000)));
    expect(holds).toEqual([20_000, 40_000, 80_000, 160_000, 300_000, 300_000, 300_000]);
  });

  it('starts again from 20 s once the top layer lasted longer than the longest hold', () => {
    expect(nextLayerHoldMs(300_000, 300_001)).toBe(20_000);
    expect(nextLayerHoldMs(300_000, 299_999)).toBe(300_000);
  });
});

describe('LayerFollower', () => {
  class FakeConsumer extends EventEmitter {
    closed = false;
    preferred: number[] = [];
    async setPreferredLayers({ spatialLayer }: { spatialLayer: number }): Promise<void> {
      this.preferred.push(spatialLayer);
    }
    layers(spatialLayer: number | null): void {
      this.emit('layerschange', spatialLayer === null ? undefined : { spatialLayer });
    }
  }

  function follow(clock = { now: 0 }) {
    const consumer = new FakeConsumer();
    const seen: string[] = [];
    const follower = new LayerFollower(consumer, 2, { onFirst: (l) => seen.push(`first ${l}`), onSwitch: (f, t, h) => seen.push(`${f}→${t}${h === null ? '' : ` hold ${h}`}`) }, () => clock.now);
    return { consumer, seen, follower, clock };
  }

  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('reports the first layer, then switches; after a drop from the top it pins the lower layer, then prefers the top again', async () => {
    const { consumer, seen, follower } = follow();
    consumer.layers(2);
    consumer.layers(null); // paused: no layer, not a switch
    consumer.layers(2);
    consumer.layers(1);
    expect(seen).toEqual(['first 2', '2→1 hold 20000']);
    expect(consumer.preferred).toEqual([1]);
    expect(follower.current).toBe(1);
    await vi.advanceTimersByTimeAsync(19_999);
    expect(consumer.preferred).toEqual([1]);
    await vi.advanceTimersByTimeAsync(1);
    expect(consumer.preferred).toEqual([1, 2]);
    consumer.layers(2);
    expect(seen.at(-1)).toBe('1→2');
  });

  it('holds twice as long after a quick new drop; a change between lower layers pins nothing', () => {
    const { consumer, seen, clock } = follow();
    consumer.layers(2);
    consumer.layers(1);
    consumer.layers(0);
    clock.now = 30_000;
    consumer.layers(2);
    clock.now = 40_000;
    consumer.layers(0);
    expect(seen).toEqual(['first 2', '2→1 hold 20000', '1→0', '0→2', '2→0 hold 40000']);
    expect(consumer.preferred).toEqual([1, 0]);
  });

  it('starts below the top without pinning (the top comes when the source sends it), and does nothing once closed', async () => {
    const { consumer, seen, follower } = follow();
    consumer.layers(1);
    consumer.layers(2);
    consumer.layers(0);
    follower.close();
    await vi.advanceTimersByTimeAsync(60_000);
    consumer.layers(2);
    expect(seen).toEqual(['first 1', '1→2', '2→0 hold 20000']);
    // The pin of the drop, but no retry after close.
    expect(consumer.preferred).toEqual([0]);
  });
});
