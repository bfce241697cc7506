import { describe, expect, it } from 'vitest';
import { parseRecordingPath, recordingDownloadPath, recordingPlaylistPath } from './ids.js';

const ID = 'AAAAAAAAAAAAAAAAAAAAAA';

describe('parseRecordingPath', () => {
  it('reads the list, a recording and its files', () => {
    expect(parseRecordingPath('/recordings')).toEqual({ kind: 'list' });
    expect(parseRecordingPath('/recordings?x=1')).toEqual({ kind: 'list' });
    expect(parseRecordingPath(`/recordings/${ID}`)).toEqual({ kind: 'recording', recordingId: ID });
    expect(parseRecordingPath(recordingPlaylistPath(ID))).toEqual({ kind: 'file', recordingId: ID, file: 'index.m3u8' });
    expect(parseRecordingPath(recordingDownloadPath(ID))).toEqual({ kind: 'file', recordingId: ID, file: 'download.mp4' });
    expect(parseRecordingPath(`/recordings/${ID}/seg_12.m4s`)).toEqual({ kind: 'file', recordingId: ID, file: 'seg_12.m4s' });
  });

  it('refuses anything else: other files, traversal, encoded characters, malformed ids', () => {
    for (const url of [`/recordings/${ID}/recording.json`, `/recordings/${ID}/index.jsonl`, `/recordings/${ID}/../x`, `/recordings/${ID}/%2e%2e`, '/recordings/short', `/recordings/${ID}/a/b`]) {
      expect(parseRecordingPath(url), url).toBeNull();
    }
  });
});
