import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { KeyFrameTiming } from './key-frames.js';

/** What KeyFrameTiming uses of a consumer: whether it is closed, and its key-frame request. */
function consumer() {
  const fake = { closed: false, requests: 0, requestKeyFrame: async () => void fake.requests++ };
  return fake;
}

describe('KeyFrameTiming', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('asks at once outside the window after a key frame, and holds a request inside it until the window has passed', () => {
    const timing = new KeyFrameTiming();
    const video = consumer();
    timing.request(video);
    expect(video.requests).toBe(1);
    timing.noteKeyFrame();
    timing.request(video);
    timing.request(video);
    expect(video.requests).toBe(1);
    vi.advanceTimersByTime(400);
    // Held requests of one consumer go as one.
    expect(video.requests).toBe(2);
  });

  it('holds one request per consumer: each simulcast layer’s consumer gets its own key frame', () => {
    const timing = new KeyFrameTiming();
    const layers = [consumer(), consumer(), consumer()];
    timing.noteKeyFrame();
    for (const layer of layers) timing.request(layer);
    layers[1]!.closed = true;
    vi.advanceTimersByTime(400);
    expect(layers.map((l) => l.requests)).toEqual([1, 0, 1]);
    timing.close();
  });
});
