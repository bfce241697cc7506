import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CoalescedValue } from './coalesced-value.js';

describe('CoalescedValue', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('publishes a change after a quiet interval at once', () => {
    const published: number[] = [];
    const v = new CoalescedValue(0, 250, (n) => published.push(n));
    v.set(1);
    expect(published).toEqual([1]);
    vi.advanceTimersByTime(300);
    v.set(2);
    expect(published).toEqual([1, 2]);
  });

  it('publishes the rest of a burst once, with the latest value, at the end of the interval', () => {
    const published: number[] = [];
    const v = new CoalescedValue(0, 250, (n) => published.push(n));
    for (let i = 1; i <= 20; i++) v.set(i);
    expect(published).toEqual([1]);
    vi.advanceTimersByTime(249);
    expect(published).toEqual([1]);
    vi.advanceTimersByTime(1);
    expect(published).toEqual([1, 20]);
  });

  it('publishes nothing when the value comes back to what was published', () => {
    const published: number[] = [];
    const v = new CoalescedValue(0, 250, (n) => published.push(n));
    v.set(1);
    v.set(2);
    v.set(1);
    vi.advanceTimersByTime(250);
    expect(published).toEqual([1]);
  });

  it('sends at most one update per interval under a steady stream of changes', () => {
    const published: number[] = [];
    const v = new CoalescedValue(0, 250, (n) => published.push(n));
    for (let t = 0; t < 1000; t += 10) {
      v.set(t);
      vi.advanceTimersByTime(10);
    }
    expect(published.length).toBeLessThanOrEqual(5);
    expect(published.length).toBeGreaterThanOrEqual(4);
  });

  it('stops after dispose', () => {
    const published: number[] = [];
    const v = new CoalescedValue(0, 250, (n) => published.push(n));
    v.set(5);
    v.set(6);
    v.dispose();
    vi.advanceTimersByTime(1000);
    expect(published).toEqual([5]);
  });
});

describe('CoalescedValue with a custom equality', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('compares objects by the given function', () => {
    const published: { n: number }[] = [];
    const v = new CoalescedValue({ n: 0 }, 100, (x) => published.push(x), (a, b) => a.n === b.n);
    v.set({ n: 0 });
    expect(published).toEqual([]);
    v.set({ n: 3 });
    expect(published).toEqual([{ n: 3 }]);
  });
});
