import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SourceWatch, type PacketCounter } from './source-watch.js';

const counter = (packets: { n: number }): PacketCounter => ({ getStats: async () => [{ packetCount: packets.n }] });

describe('SourceWatch', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  const watch = (packets: { n: number }) => {
    const events: string[] = [];
    const w = new SourceWatch(() => [counter(packets)], {
      timeoutMs: 3000,
      onFirstMedia: () => events.push('first'),
      onSilent: (reason) => events.push(reason),
    });
    return { w, events };
  };

  it('declares a source that never sends anything silent after the timeout', async () => {
    const { w, events } = watch({ n: 0 });
    w.start();
    await vi.advanceTimersByTimeAsync(2000);
    expect(events).toEqual([]);
    await vi.advanceTimersByTimeAsync(1500);
    expect(events).toEqual(['no media arrived from the broadcaster']);
    expect(w.hasMedia).toBe(false);
  });

  it('reports the first media once, stays quiet while packets flow, and notices when they stop', async () => {
    const packets = { n: 0 };
    const { w, events } = watch(packets);
    w.start();
    for (let s = 0; s < 10; s++) {
      packets.n += 50;
      await vi.advanceTimersByTimeAsync(1000);
    }
    expect(events).toEqual(['first']);
    expect(w.flowing).toBe(true);
    await vi.advanceTimersByTimeAsync(2600);
    expect(w.flowing).toBe(false);
    await vi.advanceTimersByTimeAsync(1000);
    expect(events).toEqual(['first', 'the broadcaster stopped sending media']);
  });

  it('stops polling when closed', async () => {
    const { w, events } = watch({ n: 0 });
    w.start();
    w.close();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(events).toEqual([]);
  });
});
