import { describe, expect, it } from 'vitest';
import { STALL_STEP_S, SMOOTH_STRETCH_MS, easedTargetLatency } from './stall-backoff';

describe('earning back the latency hls.js gave up in stalls', () => {
  it('steps the target one step towards the hold-back after a smooth stretch', () => {
    expect(easedTargetLatency(0.92, 0.62, SMOOTH_STRETCH_MS)).toBe(0.82);
    expect(easedTargetLatency(0.92, 0.62, SMOOTH_STRETCH_MS * 3)).toBe(0.82);
  });

  it('leaves the target alone before the stretch is over', () => {
    expect(easedTargetLatency(0.92, 0.62, SMOOTH_STRETCH_MS - 1)).toBeNull();
  });

  it('never goes below the hold-back, and stops there', () => {
    expect(easedTargetLatency(0.62 + STALL_STEP_S / 2, 0.62, SMOOTH_STRETCH_MS)).toBe(0.62);
    expect(easedTargetLatency(0.62, 0.62, SMOOTH_STRETCH_MS)).toBeNull();
    expect(easedTargetLatency(0.5, 0.62, SMOOTH_STRETCH_MS)).toBeNull();
  });

  it('takes a full second of back-off (hls.js caps it at one target duration) back in ten stretches', () => {
    let target = 1.62;
    let stretches = 0;
    for (let eased = easedTargetLatency(target, 0.62, SMOOTH_STRETCH_MS); eased !== null; eased = easedTargetLatency(target, 0.62, SMOOTH_STRETCH_MS)) {
      target = eased;
      stretches++;
    }
    expect(target).toBe(0.62);
    expect(stretches).toBe(10);
  });
});
