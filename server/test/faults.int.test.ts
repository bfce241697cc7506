import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { io as connect, type Socket } from 'socket.io-client';
import { channelNamespace } from '../../protocol/index.js';
import { createRtpIngest } from './helpers/rtp-ingest.js';
import { eventually, isAlive, waitForExit } from './helpers/processes.js';
import { startFedChannel, startTestApp } from './helpers/test-app.js';

type TestApp = Awaited<ReturnType<typeof startTestApp>>;

describe('faults', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ BROADCASTER_GRACE_MS: '1500' });
  });
  afterAll(() => app?.stop());

  it('restarts FFmpeg killed with SIGKILL: the playlist advances again, after a discontinuity, within 4 s', async () => {
    const fed = await startFedChannel(app);
    try {
      const playlist = fed.channel.hlsStream!;
      const firstPid = fed.channel.ffmpegPid!;
      await eventually(() => playlist.newestSegment >= 2, 'a few segments');
      const before = playlist.newestSegment;
      process.kill(firstPid, 'SIGKILL');
      const killedAt = Date.now();
      await waitForExit(firstPid);
      // The new FFmpeg's first segment: after a discontinuity (a new init segment), numbering continuing.
      await eventually(() => playlist.newestSegment > before && /#EXT-X-DISCONTINUITY\n#EXT-X-MAP:URI="init_1\.mp4"[\s\S]*#EXTINF/.test(playlist.playlist(false)), 'the playlist to advance after the kill', 4000);
      const resumedMs = Date.now() - killedAt;
      expect(resumedMs).toBeLessThan(4000);
      expect(fed.channel.ffmpegPid).not.toBe(firstPid);
      expect(isAlive(fed.channel.ffmpegPid!)).toBe(true);
      expect(fed.channel.ended).toBe(false);
      console.log(`HLS resumed ${resumedMs} ms after FFmpeg was killed`);
    } finally {
      await fed.stop();
    }
  });

  it('ends a channel whose FFmpeg keeps dying, after the allowed restarts', async () => {
    const strict = await startTestApp({ FFMPEG_MAX_RESTARTS: '1' });
    const fed = await startFedChannel(strict);
    try {
      const reason = new Promise<string>((resolve) => fed.channel.once('ended', resolve));
      const firstPid = fed.channel.ffmpegPid!;
      process.kill(firstPid, 'SIGKILL');
      const secondPid = await eventually(() => {
        const pid = fed.channel.ffmpegPid;
        return pid !== undefined && pid !== firstPid && isAlive(pid) ? pid : null;
      }, 'the restart', 5000);
      process.kill(secondPid, 'SIGKILL');
      expect(await reason).toBe('the HLS encoder keeps failing; please go live again');
    } finally {
      await fed.stop();
      await strict.stop();
    }
  });

  it('gives a clear reason when the HLS port range is exhausted, and recovers when ports free up', async () => {
    const tiny = await startTestApp({ HLS_RTP_MIN_PORT: '29000', HLS_RTP_MAX_PORT: '29003' });
    const first = await startFedChannel(tiny);
    try {
      const { channel } = await tiny.registry.create();
      const reason = new Promise<string>((resolve) => channel.once('ended', resolve));
      const ingest = await createRtpIngest(channel); // both tracks: the pipeline tries to start
      expect(await reason).toBe('the HLS pipeline could not start: no free UDP ports left in 29000-29003 for the HLS pipeline');
      ingest.close();
      await first.stop();
      const again = await startFedChannel(tiny);
      expect(again.channel.state.phase).toBe('live');
      await again.stop();
    } finally {
      await first.stop();
      await tiny.stop();
    }
  });

  describe('broadcaster reconnects', () => {
    const join = (channelId: string, auth: object): Promise<Socket> =>
      new Promise((resolve, reject) => {
        const socket = connect(`${app.url}${channelNamespace(channelId)}`, { auth, transports: ['websocket'], reconnection: false });
        socket.once('connect', () => resolve(socket));
        socket.once('connect_error', reject);
      });

    it('keeps the channel when the broadcaster comes back within the grace period, and ends it after', async () => {
      const { channel, publishToken } = await app.registry.create();
      const session = 'page-session-1';
      const first = await join(channel.id, { role: 'broadcaster', publishToken, session });
      // A dropped connection (not a deliberate leave): close the transport under the socket.
      first.io.engine.close();
      await eventually(() => !channel.hasBroadcaster, 'the server to notice the drop');
      await new Promise((r) => setTimeout(r, 500));
      expect(channel.ended).toBe(false);

      const back = await join(channel.id, { role: 'broadcaster', publishToken, session });
      expect(channel.hasBroadcaster).toBe(true);
      await new Promise((r) => setTimeout(r, 2000)); // longer than the grace period
      expect(channel.ended).toBe(false);

      const ended = new Promise<string>((resolve) => channel.once('ended', resolve));
      back.io.engine.close();
      expect(await ended).toBe('the broadcaster’s connection was lost');
      expect(app.registry.get(channel.id)).toBeUndefined();
    });

    it('ends the channel at once when the broadcaster leaves on purpose', async () => {
      const { channel, publishToken } = await app.registry.create();
      const socket = await join(channel.id, { role: 'broadcaster', publishToken });
      const ended = new Promise<string>((resolve) => channel.once('ended', resolve));
      socket.disconnect();
      expect(await ended).toBe('the broadcaster left');
    });

    it('lets the same page replace its stale connection, but refuses another page with the token', async () => {
      const { channel, publishToken } = await app.registry.create();
      const first = await join(channel.id, { role: 'broadcaster', publishToken, session: 'page-A-session' });
      await expect(join(channel.id, { role: 'broadcaster', publishToken, session: 'page-B-session' })).rejects.toThrow(
        'this channel already has a broadcaster',
      );
      const replaced = new Promise<string>((resolve) => first.once('disconnect', resolve));
      const again = await join(channel.id, { role: 'broadcaster', publishToken, session: 'page-A-session' });
      expect(await replaced).toBe('io server disconnect');
      expect(channel.ended).toBe(false);
      again.disconnect();
    });
  });
});
