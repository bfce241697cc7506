import { describe, expect, it } from 'vitest';
import { pickLeastLoaded } from './worker-choice.js';

describe('pickLeastLoaded', () => {
  it('returns -1 with no workers', () => {
    expect(pickLeastLoaded([])).toBe(-1);
  });

  it('picks the worker with the fewest routers', () => {
    expect(pickLeastLoaded([{ routers: 3, consumers: 0 }, { routers: 1, consumers: 50 }, { routers: 2, consumers: 0 }])).toBe(1);
  });

  it('breaks router ties by consumers, then by index', () => {
    expect(pickLeastLoaded([{ routers: 2, consumers: 9 }, { routers: 2, consumers: 4 }])).toBe(1);
    expect(pickLeastLoaded([{ routers: 2, consumers: 4 }, { routers: 2, consumers: 4 }])).toBe(0);
  });

  it('never picks a missing worker (infinite load) while another exists', () => {
    expect(pickLeastLoaded([{ routers: Infinity, consumers: Infinity }, { routers: 40, consumers: 900 }])).toBe(1);
  });

  it('spreads new channels evenly when each choice is counted', () => {
    const loads = [0, 0, 0].map(() => ({ routers: 0, consumers: 0 }));
    for (let i = 0; i < 9; i++) loads[pickLeastLoaded(loads)]!.routers++;
    expect(loads.map((l) => l.routers)).toEqual([3, 3, 3]);
  });
});
