import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ChannelRecord } from './channel-directory.js';
import { createLogger } from '../logger.js';
import { RemoteChannels, type ViewerRoom } from './remote-channels.js';

const ID = 'AAAAAAAAAAAAAAAAAAAAAA';
const record = (over: Partial<ChannelRecord['state']> = {}, viewers = 1): ChannelRecord => ({
  channelId: ID,
  instanceId: 'owner',
  state: { channelId: ID, phase: 'waiting', title: '', description: '', hls: null, realtime: false, realtimeLimit: 50, recording: null, origin: 'http://a:3000', ...over },
  audience: { viewers, realtime: 0 },
  liveSince: 0,
});

/** A room that records what the viewers on this instance are told. */
function fakeRoom() {
  const broadcast: [string, unknown][] = [];
  const direct: Record<string, [string, unknown][]> = {};
  const disconnectAll = vi.fn();
  const room: ViewerRoom = {
    tell: (socketId, m) => void (direct[socketId] ??= []).push([m.event, m.args[0]]),
    tellAll: (m) => void broadcast.push([m.event, m.args[0]]),
    disconnectAll,
  };
  return { room, broadcast, direct, disconnectAll };
}

describe('RemoteChannels', () => {
  let reports: [string, number][];
  let lookup: ReturnType<typeof vi.fn<(id: string) => Promise<ChannelRecord | null>>>;
  let remote: RemoteChannels;
  let ns: ReturnType<typeof fakeRoom>;

  beforeEach(() => {
    vi.useFakeTimers();
    reports = [];
    lookup = vi.fn<(id: string) => Promise<ChannelRecord | null>>();
    remote = new RemoteChannels({
      intervalMs: 250,
      report: (id, a) => reports.push([id, a.viewers]),
      realtimeOf: () => 0,
      released: () => undefined,
      lookup,
      logger: createLogger('silent'),
    });
    ns = fakeRoom();
  });
  afterEach(() => vi.useRealTimers());

  it('greets a joining viewer with what the owner last published', () => {
    remote.join(ns.room, 's1', record({}, 4));
    expect(ns.direct.s1).toEqual([['channelState', record().state], ['viewerCount', { viewers: 4, realtime: 0 }]]);
  });

  it('reports joins to the owner at most once per interval, and the last leave at once', () => {
    remote.join(ns.room, 's1', record());
    remote.join(ns.room, 's2', record());
    expect(reports).toEqual([[ID, 1]]);
    vi.advanceTimersByTime(250);
    expect(reports).toEqual([[ID, 1], [ID, 2]]);
    remote.leave(ID, 's1');
    vi.advanceTimersByTime(250);
    remote.leave(ID, 's2');
    expect(reports).toEqual([[ID, 1], [ID, 2], [ID, 1], [ID, 0]]);
    expect(remote.size).toBe(0);
    remote.reportAll();
    expect(reports).toHaveLength(4);
  });

  it('ends the channel for its viewers when the owner’s record is gone, not when Redis cannot answer', async () => {
    remote.join(ns.room, 's1', record());
    lookup.mockRejectedValueOnce(new Error('Stream isn’t writeable'));
    await remote.checkOwners();
    expect(ns.broadcast).toEqual([]);
    lookup.mockResolvedValueOnce(null);
    await remote.checkOwners();
    expect(ns.broadcast).toEqual([['streamEnded', { reason: 'the server carrying this stream stopped responding' }]]);
    expect(remote.size).toBe(0);
    vi.advanceTimersByTime(1000);
    expect(ns.disconnectAll).toHaveBeenCalledOnce();
  });

  it('catches viewers up on what the owner said while its events could not arrive, once', async () => {
    remote.join(ns.room, 's1', record());
    const live = record({ phase: 'live', realtime: true }, 2);
    lookup.mockResolvedValue(live);
    await remote.checkOwners();
    await remote.checkOwners();
    expect(ns.broadcast).toEqual([['channelState', live.state], ['viewerCount', live.audience]]);
  });

  it('passes the owner’s events on, and lets go of the channel when it ends', () => {
    remote.join(ns.room, 's1', record());
    remote.deliver(ID, { event: 'viewerCount', args: [{ viewers: 7, realtime: 2 }] });
    remote.deliver('BBBBBBBBBBBBBBBBBBBBBB', { event: 'streamEnded', args: [{ reason: 'not ours' }] });
    remote.deliver(ID, { event: 'streamEnded', args: [{ reason: 'the broadcaster ended the stream' }] });
    expect(ns.broadcast).toEqual([
      ['viewerCount', { viewers: 7, realtime: 2 }],
      ['streamEnded', { reason: 'the broadcaster ended the stream' }],
    ]);
    expect(remote.size).toBe(0);
  });
});
