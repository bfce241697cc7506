import { describe, expect, it } from 'vitest';
import { ChannelError } from '../channel/channel-error.js';
import { keyOf, Quota } from './quota.js';

describe('Quota', () => {
  it('refuses the key that holds its limit, with a clear error and a count, and not other keys', () => {
    const refused: string[] = [];
    const q = new Quota('things', 2, (n) => `at most ${n} things`, (name) => refused.push(name));
    q.take('a');
    q.take('a');
    expect(() => q.take('a')).toThrow(new ChannelError('full', 'at most 2 things'));
    expect(refused).toEqual(['things']);
    expect(() => q.take('b')).not.toThrow();
    expect(q.count('a')).toBe(2);
  });

  it('releases once however often release is called, and forgets empty keys', () => {
    const q = new Quota('things', 1, () => 'full');
    const release = q.take('a');
    release();
    release();
    expect(q.count('a')).toBe(0);
    expect(q.size).toBe(0);
    const again = q.take('a');
    expect(() => q.take('a')).toThrow('full');
    again();
  });

  it('keys objects stably and distinctly', () => {
    const x = {};
    const y = {};
    expect(keyOf(x)).toBe(keyOf(x));
    expect(keyOf(x)).not.toBe(keyOf(y));
  });
});
