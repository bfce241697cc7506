import { describe, expect, it } from 'vitest';
import { indexLine, parseIndex, parseMetadata, totals, type IndexEntry } from './recording-files.js';

const entry = (msn: number): IndexEntry => ({ msn, init: 'init_0.mp4', duration: 1.5, discontinuity: false, programDateTime: 1_700_000_000_000 + msn, bytes: 100 + msn });

describe('recording files', () => {
  it('reads back the index, ignoring the torn last line a killed server leaves', () => {
    const text = indexLine(entry(0)) + indexLine(entry(1)) + indexLine(entry(2)).slice(0, 20);
    expect(parseIndex(text)).toEqual([entry(0), entry(1)]);
    expect(totals(parseIndex(text))).toEqual({ duration: 3, bytes: 201 });
  });

  it('ignores index lines of another shape', () => {
    expect(parseIndex(`{"msn":-1}\nnot json\n${indexLine(entry(4))}`)).toEqual([entry(4)]);
  });

  it('accepts only whole, valid metadata', () => {
    const meta = { version: 1, recordingId: 'a', title: 't', description: '', status: 'complete', startedAt: 1, endedAt: 2, listed: true, ownerTokenHash: 'ab'.repeat(32), duration: 1, bytes: 1 };
    expect(parseMetadata(JSON.stringify(meta))).toEqual(meta);
    expect(parseMetadata(JSON.stringify(meta).slice(0, -5))).toBeNull();
    expect(parseMetadata(JSON.stringify({ ...meta, status: 'lost' }))).toBeNull();
    expect(parseMetadata(JSON.stringify({ ...meta, ownerTokenHash: 'the token itself' }))).toBeNull();
  });
});
