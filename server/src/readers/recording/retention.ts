/** What retention needs to know of a recording. */
export interface RetentionCandidate {
  recordingId: string;
  startedAt: number;
  /** Everything it holds on disk (media, index, picture, a cached download). */
  bytes: number;
  /** Still being written: never deleted, whatever its age or size. */
  inProgress: boolean;
}

export interface RetentionPolicy {
  now: number;
  /** 0: no age limit. */
  maxAgeMs: number;
  maxBytes: number;
}

/**
 * Which recordings to delete: every finished one older than the age limit, then the oldest
 * finished ones until all recordings together fit the size limit. A recording in progress is
 * never chosen, but it counts towards the size (so a long live broadcast pushes older ones out).
 */
export function recordingsToDelete(recordings: readonly RetentionCandidate[], policy: RetentionPolicy): string[] {
  const oldestFirst = [...recordings].sort((a, b) => a.startedAt - b.startedAt);
  const doomed = new Set<string>();
  let total = recordings.reduce((sum, r) => sum + r.bytes, 0);
  for (const r of oldestFirst) {
    if (r.inProgress) continue;
    const tooOld = policy.maxAgeMs > 0 && policy.now - r.startedAt > policy.maxAgeMs;
    if (tooOld || total > policy.maxBytes) {
      doomed.add(r.recordingId);
      total -= r.bytes;
    }
  }
  return oldestFirst.filter((r) => doomed.has(r.recordingId)).map((r) => r.recordingId);
}
