import { describe, expect, it } from 'vitest';
import { parseRecord, type ChannelRecord } from './channel-directory.js';
import { redactedRedisUrl } from './redis.js';

const record: ChannelRecord = {
  channelId: 'AAAAAAAAAAAAAAAAAAAAAA',
  instanceId: 'abc123',
  state: {
    channelId: 'AAAAAAAAAAAAAAAAAAAAAA',
    phase: 'live',
    title: 'Morning show',
    description: '',
    hls: { playlist: '/hls/AAAAAAAAAAAAAAAAAAAAAA/index.m3u8', segmentSeconds: 0.5 },
    realtime: true,
    realtimeLimit: 50,
    recording: null,
    origin: 'http://10.0.0.1:3000',
  },
  audience: { viewers: 3, realtime: 1 },
  liveSince: 1_700_000_000_000,
};

describe('directory records', () => {
  it('round-trips a record through its JSON', () => {
    expect(parseRecord(JSON.stringify(record))).toEqual(record);
  });

  it('keeps fields a newer instance added to the state', () => {
    const newer = { ...record, state: { ...record.state, bitrate: 2_500_000 } };
    expect(parseRecord(JSON.stringify(newer))?.state).toMatchObject({ phase: 'live', bitrate: 2_500_000 });
  });

  it.each([
    ['missing', null],
    ['not JSON', '{"channelId":'],
    ['no owner', JSON.stringify({ ...record, instanceId: undefined })],
    ['unknown phase', JSON.stringify({ ...record, state: { ...record.state, phase: 'paused' } })],
    ['audience not numbers', JSON.stringify({ ...record, audience: { viewers: 'many', realtime: 0 } })],
  ])('ignores a record that is %s', (_, json) => {
    expect(parseRecord(json)).toBeNull();
  });

  it('never shows the Redis password in messages', () => {
    expect(redactedRedisUrl('redis://:hunter2@10.0.0.5:6379/0')).toBe('redis://:***@10.0.0.5:6379/0');
    expect(redactedRedisUrl('redis://127.0.0.1:6379')).toBe('redis://127.0.0.1:6379');
  });
});
