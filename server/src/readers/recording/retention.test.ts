import { describe, expect, it } from 'vitest';
import { recordingsToDelete, type RetentionCandidate } from './retention.js';

const DAY = 86_400_000;
const NOW = 100 * DAY;
const rec = (recordingId: string, ageDays: number, bytes: number, inProgress = false): RetentionCandidate => ({ recordingId, startedAt: NOW - ageDays * DAY, bytes, inProgress });

describe('recordingsToDelete', () => {
  it('deletes nothing within both limits', () => {
    expect(recordingsToDelete([rec('a', 1, 10), rec('b', 2, 10)], { now: NOW, maxAgeMs: 30 * DAY, maxBytes: 100 })).toEqual([]);
  });

  it('deletes the oldest first until the rest fits the size limit', () => {
    const all = [rec('new', 1, 40), rec('old', 5, 40), rec('middle', 3, 40)];
    expect(recordingsToDelete(all, { now: NOW, maxAgeMs: 0, maxBytes: 100 })).toEqual(['old']);
    expect(recordingsToDelete(all, { now: NOW, maxAgeMs: 0, maxBytes: 50 })).toEqual(['old', 'middle']);
  });

  it('deletes every recording past the age limit, whatever the size', () => {
    expect(recordingsToDelete([rec('a', 1, 1), rec('b', 31, 1), rec('c', 40, 1)], { now: NOW, maxAgeMs: 30 * DAY, maxBytes: 1000 })).toEqual(['c', 'b']);
  });

  it('never deletes a recording in progress, which still counts towards the size', () => {
    const all = [rec('live', 90, 60, true), rec('old', 5, 30), rec('new', 1, 30)];
    // 120 bytes for 100 allowed: the live one stays (however old), the oldest finished one goes.
    expect(recordingsToDelete(all, { now: NOW, maxAgeMs: 30 * DAY, maxBytes: 100 })).toEqual(['old']);
    // Even if the live one alone is over the limit, only finished ones are deleted.
    expect(recordingsToDelete(all, { now: NOW, maxAgeMs: 0, maxBytes: 10 })).toEqual(['old', 'new']);
  });
});
