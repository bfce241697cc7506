import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { IdleTimer } from './idle-timer.js';

describe('IdleTimer', () => {
  let idle: ReturnType<typeof vi.fn<() => void>>;
  beforeEach(() => {
    vi.useFakeTimers();
    idle = vi.fn<() => void>();
  });
  afterEach(() => vi.useRealTimers());

  it('fires once after the timeout when nobody holds the channel', () => {
    const timer = new IdleTimer(1000, idle);
    vi.advanceTimersByTime(999);
    expect(idle).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(idle).toHaveBeenCalledOnce();
    expect(timer.running).toBe(false);
    // Holding or releasing afterwards does not bring it back.
    timer.hold('a');
    timer.release('a');
    vi.advanceTimersByTime(5000);
    expect(idle).toHaveBeenCalledOnce();
  });

  it('does not fire while held, however long', () => {
    const timer = new IdleTimer(1000, idle);
    vi.advanceTimersByTime(900);
    timer.hold('page');
    expect(timer.running).toBe(false);
    vi.advanceTimersByTime(60 * 60_000);
    expect(idle).not.toHaveBeenCalled();
  });

  it('starts the full timeout over when the last holder leaves', () => {
    const timer = new IdleTimer(1000, idle);
    vi.advanceTimersByTime(900);
    timer.hold('a');
    timer.hold('b');
    timer.release('a');
    expect(timer.running).toBe(false);
    timer.release('b');
    expect(timer.running).toBe(true);
    vi.advanceTimersByTime(999);
    expect(idle).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(idle).toHaveBeenCalledOnce();
  });

  it('ignores the release of an id that holds nothing (it does not restart a running timeout)', () => {
    const timer = new IdleTimer(1000, idle);
    vi.advanceTimersByTime(900);
    timer.release('stranger');
    vi.advanceTimersByTime(100);
    expect(idle).toHaveBeenCalledOnce();
  });

  it('counts one holder once, whatever it calls twice', () => {
    const timer = new IdleTimer(1000, idle);
    timer.hold('a');
    timer.hold('a');
    timer.release('a');
    expect(timer.running).toBe(true);
    timer.release('a');
    vi.advanceTimersByTime(1000);
    expect(idle).toHaveBeenCalledOnce();
  });

  it('never fires once stopped (media arrived), held or not', () => {
    const timer = new IdleTimer(1000, idle);
    timer.hold('a');
    timer.stop();
    timer.release('a');
    expect(timer.running).toBe(false);
    vi.advanceTimersByTime(5000);
    expect(idle).not.toHaveBeenCalled();
  });
});
