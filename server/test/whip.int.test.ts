import sdpTransform from 'sdp-transform';
import type { Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { channelNamespace } from '../../protocol/index.js';
import type { Channel } from '../src/channel/channel.js';
import { createLogger } from '../src/logger.js';
import { logCapture } from './helpers/output.js';
import { descendants, eventually, udpSocketCount } from './helpers/processes.js';
import type { TestServer } from './helpers/server.js';
import { openSocket, request } from './helpers/sockets.js';
import { startTestApp } from './helpers/test-app.js';
import { whipOffer } from './helpers/whip-offer.js';

/** The WHIP HTTP surface (RFC 9725) against a real server; the media path is proven in e2e/whip.spec.ts. */
describe('WHIP ingest: the HTTP surface', () => {
  let app: TestServer;
  const log = logCapture();
  const keys: string[] = [];

  beforeAll(async () => {
    // A short source timeout: a session whose ICE/DTLS never completes must be released quickly.
    app = await startTestApp({ SOURCE_MEDIA_TIMEOUT_MS: '2000', MAX_CHANNELS: '50' }, { logger: createLogger('debug', log) });
  });
  afterAll(async () => {
    await app?.stop();
    // Stream keys are secrets: never in the log, whatever happened above.
    const text = JSON.stringify(log.records());
    expect(keys.length).toBeGreaterThan(0);
    for (const key of keys) expect(text).not.toContain(key);
  });

  async function newChannel(): Promise<{ channel: Channel; streamKey: string; publishToken: string; endpoint: string }> {
    const { channel, streamKey, publishToken } = await app.registry.create();
    keys.push(streamKey);
    return { channel, streamKey, publishToken, endpoint: `${app.url}/whip/${channel.id}` };
  }

  const post = (endpoint: string, body: string, headers: Record<string, string>) => fetch(endpoint, { method: 'POST', body, headers });
  const sdpHeaders = (key: string) => ({ 'Content-Type': 'application/sdp', Authorization: `Bearer ${key}` });

  it('publishes: 201 with an ICE-lite recvonly answer for the same mids and the client’s payload types, a Location, then DELETE ends the channel', async () => {
    const { channel, streamKey, publishToken, endpoint } = await newChannel();
    const res = await post(endpoint, whipOffer(), sdpHeaders(streamKey));
    expect(res.status).toBe(201);
    expect(res.headers.get('content-type')).toBe('application/sdp');
    const location = res.headers.get('location')!;
    expect(location).toMatch(new RegExp(`^/whip/${channel.id}/[A-Za-z0-9_-]{22}$`));

    const answer = sdpTransform.parse(await res.text());
    expect(answer.icelite).toBe('ice-lite');
    expect(answer.groups?.[0]).toEqual({ type: 'BUNDLE', mids: '0 1' });
    expect(answer.media.map((m) => [m.type, String(m.mid), m.direction, m.setup, m.rtcpMux])).toEqual([
      ['audio', '0', 'recvonly', 'passive', 'rtcp-mux'],
      ['video', '1', 'recvonly', 'passive', 'rtcp-mux'],
    ]);
    expect(answer.media[0]!.rtp.map((r) => [r.payload, r.codec])).toEqual([[111, 'opus']]);
    // H264 (FFmpeg copies it into HLS) with its RTX, not the VP9 the client listed first.
    expect(answer.media[1]!.rtp.map((r) => [r.payload, r.codec])).toEqual([[102, 'H264'], [103, 'rtx']]);
    expect(answer.media[1]!.rtcpFb?.map((f) => `${f.type} ${f.subtype ?? ''}`.trim())).toEqual(expect.arrayContaining(['nack', 'nack pli', 'ccm fir']));
    expect(channel.tracks().map((p) => p.rtpParameters.mid).sort()).toEqual(['0', '1']);
    for (const m of answer.media) {
      expect(m.candidates?.length).toBeGreaterThan(0);
      expect(m.candidates!.every((c) => c.ip === '127.0.0.1')).toBe(true);
      expect(m.fingerprint?.type).toBe('sha-256');
      expect(m.iceUfrag).toBeTruthy();
    }
    // The producers are the channel's tracks, with the offer's SSRCs and RTX.
    const video = channel.tracks().find((p) => p.kind === 'video')!;
    expect(video.rtpParameters.encodings).toEqual([expect.objectContaining({ ssrc: 2222, rtx: { ssrc: 3333 } })]);
    expect(channel.state.realtime).toBe(true);

    // A second publisher, and the go-live page, are refused while the encoder holds the channel.
    expect((await post(endpoint, whipOffer(), sdpHeaders(streamKey))).status).toBe(409);
    expect(() => channel.claimBroadcaster('socket-1', publishToken)).toThrow(/encoder is publishing/);
    // The page's publish token is not a stream key.
    expect((await post(endpoint, whipOffer(), sdpHeaders(publishToken))).status).toBe(401);

    // DELETE needs the key and the right session.
    expect((await fetch(app.url + location, { method: 'DELETE' })).status).toBe(401);
    expect((await fetch(`${app.url}/whip/${channel.id}/${'A'.repeat(22)}`, { method: 'DELETE', headers: { Authorization: `Bearer ${streamKey}` } })).status).toBe(404);
    const ended = new Promise<string>((resolve) => channel.once('ended', resolve));
    const del = await fetch(app.url + location, { method: 'DELETE', headers: { Authorization: `Bearer ${streamKey}` } });
    expect(del.status).toBe(200);
    expect(await ended).toBe('the broadcaster left');
    await eventually(() => channel.router.closed, 'the router to close', 5000);
    expect((await post(endpoint, whipOffer(), sdpHeaders(streamKey))).status).toBe(404);
  });

  it('accepts simulcast rids: one encoding per rid, ordered low to high, and answers recv for them', async () => {
    const { channel, streamKey, endpoint } = await newChannel();
    const res = await post(endpoint, whipOffer({ simulcast: true }), sdpHeaders(streamKey));
    expect(res.status).toBe(201);
    const video = sdpTransform.parse(await res.text()).media[1]!;
    expect(video.simulcast).toEqual({ dir1: 'recv', list1: 'q;h;f' });
    expect(video.rids?.map((r) => [String(r.id), r.direction])).toEqual([['q', 'recv'], ['h', 'recv'], ['f', 'recv']]);
    expect(channel.tracks().find((p) => p.kind === 'video')!.rtpParameters.encodings?.map((e) => e.rid)).toEqual(['q', 'h', 'f']);
    await channel.end('test over');
  });

  it('refuses with a clear status and reason: 404, 401, 415, 413, 400, 405', async () => {
    const { channel, streamKey, endpoint } = await newChannel();
    const status = async (res: Promise<Response>) => {
      const r = await res;
      return [r.status, await r.text()] as const;
    };
    expect((await status(post(`${app.url}/whip/${'x'.repeat(22)}`, whipOffer(), sdpHeaders(streamKey))))[0]).toBe(404);
    expect((await status(post(`${app.url}/whip/../etc/passwd`, whipOffer(), sdpHeaders(streamKey))))[0]).toBe(404);
    const [noKey, noKeyText] = await status(post(endpoint, whipOffer(), { 'Content-Type': 'application/sdp' }));
    expect([noKey, noKeyText]).toEqual([401, expect.stringContaining('Bearer')]);
    expect((await status(post(endpoint, whipOffer(), sdpHeaders(streamKey.slice(1) + 'A'))))[0]).toBe(401);
    expect((await status(post(endpoint, whipOffer(), { ...sdpHeaders(streamKey), Authorization: `Basic ${streamKey}` })))[0]).toBe(401);
    expect(await status(post(endpoint, whipOffer(), { Authorization: `Bearer ${streamKey}`, 'Content-Type': 'application/json' }))).toEqual([415, expect.stringContaining('application/sdp')]);
    expect((await status(post(endpoint, 'v=0\r\n' + 'a=x:'.padEnd(70 * 1024, 'y') + '\r\n', sdpHeaders(streamKey))))[0]).toBe(413);

    const refusals: [string, string][] = [
      ['hello', 'SDP'],
      ['v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n', 'm= line'],
      [whipOffer({ videoCodec: 'AV1/90000' }).replace(/a=rtpmap:96 VP9\/90000\r\n/, ''), 'no usable video codec'],
      [whipOffer().replace(/a=group:BUNDLE 0 1/, 'a=group:BUNDLE 0'), 'BUNDLE'],
      [whipOffer().replace(/a=fingerprint:[^\r]*\r\n/g, ''), 'fingerprint'],
      [whipOffer().replace(/a=sendonly/g, 'a=recvonly'), 'must send'],
      [whipOffer().replace(/a=ssrc[^\r]*\r\n/g, ''), 'neither SSRCs'],
      [whipOffer().replace('m=audio 9 UDP/TLS/RTP/SAVPF', 'm=application 9 UDP/DTLS/SCTP'), 'not supported'],
      [whipOffer({ simulcast: true }).replace('a=simulcast:send f;h;q', 'a=simulcast:send f;h;zz'), 'rid zz'],
      ['v=0\r\n' + 'm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n'.repeat(50), 'm-lines'],
    ];
    for (const [sdp, reason] of refusals) {
      const [code, text] = await status(post(endpoint, sdp, sdpHeaders(streamKey)));
      expect([code, text], sdp.slice(0, 60)).toEqual([400, expect.stringContaining(reason)]);
    }
    // Nothing of the refused offers stayed on the channel.
    expect(channel.tracks()).toEqual([]);
    expect(channel.hasSource).toBe(false);

    const [patch, patchText] = await status(fetch(`${endpoint}/${'A'.repeat(22)}`, { method: 'PATCH', headers: { Authorization: `Bearer ${streamKey}` } }));
    expect([patch, patchText]).toEqual([405, expect.stringContaining('trickle')]);
    const options = await fetch(endpoint, { method: 'OPTIONS' });
    expect(options.status).toBe(204);
    expect(options.headers.get('access-control-allow-methods')).toBe('POST, OPTIONS');
    expect(options.headers.get('access-control-expose-headers')).toContain('Location');
    expect((await fetch(endpoint)).status).toBe(405);

    // Still publishable after all that.
    expect((await post(endpoint, whipOffer(), sdpHeaders(streamKey))).status).toBe(201);
    await channel.end('test over');
  });

  it('releases a session whose ICE/DTLS never completes (the source watch ends the channel)', async () => {
    const { channel, streamKey, endpoint } = await newChannel();
    const started = Date.now();
    expect((await post(endpoint, whipOffer(), sdpHeaders(streamKey))).status).toBe(201);
    const reason = await new Promise<string>((resolve) => channel.once('ended', resolve));
    expect(reason).toBe('no media arrived from the broadcaster');
    expect(Date.now() - started).toBeLessThan(6000);
    await eventually(() => channel.router.closed && app.registry.get(channel.id) === undefined, 'the channel to be released', 5000);
  });

  it('leaves nothing behind: 30 publish/DELETE cycles and 30 sessions abandoned before ICE', async () => {
    const routers = async () => (await Promise.all(app.pool.workers.map((w) => w.dump()))).reduce((n, d) => n + d.routerIds.length, 0);
    // Every POST with audio + video starts the channel's FFmpeg: a leak would leave one behind.
    const ffmpegs = () => descendants(process.pid).filter((p) => p.comm === 'ffmpeg').length;
    await eventually(async () => app.registry.size === 0 && (await routers()) === 0 && ffmpegs() === 0, 'earlier tests’ channels to be gone', 10_000);
    const sockets = await udpSocketCount();
    for (let i = 0; i < 30; i++) {
      const { channel, streamKey, endpoint } = await newChannel();
      const res = await post(endpoint, whipOffer(), sdpHeaders(streamKey));
      expect(res.status).toBe(201);
      expect(await udpSocketCount()).toBeGreaterThan(sockets); // the session's transport really listens
      const del = await fetch(app.url + res.headers.get('location')!, { method: 'DELETE', headers: { Authorization: `Bearer ${streamKey}` } });
      expect(del.status).toBe(200);
      await channel.end('test over');
    }
    await eventually(async () => app.registry.size === 0 && (await routers()) === 0 && ffmpegs() === 0 && (await udpSocketCount()) === sockets, 'cycled sessions to be freed', 10_000);
    // All at once, as a burst of encoders that never connect would come: 30 channels (under
    // MAX_CHANNELS; registry.create is not subject to the lobby's per-address limit), 30 FFmpeg.
    const abandoned = await Promise.all(
      Array.from({ length: 30 }, async () => {
        const { channel, streamKey, endpoint } = await newChannel();
        expect((await post(endpoint, whipOffer(), sdpHeaders(streamKey))).status).toBe(201);
        return channel;
      }),
    );
    // The check above counts real processes: the abandoned sessions' FFmpeg are running now.
    await eventually(() => ffmpegs() > 0, 'the abandoned sessions’ FFmpeg to start', 5_000);
    // Released by the source watch (SOURCE_MEDIA_TIMEOUT_MS 2 s) after the last POST; 30 FFmpeg
    // start-ups on two shared cores can take a while, hence the generous deadlines.
    await eventually(() => abandoned.every((c) => c.ended), 'the abandoned sessions to be released', 20_000);
    await eventually(async () => app.registry.size === 0 && (await routers()) === 0 && ffmpegs() === 0 && (await udpSocketCount()) === sockets, 'routers, transports, FFmpeg and sockets to be freed', 20_000);
    expect(app.ports.allocated).toBe(0);
  }, 90_000);
});

/** Stream keys after creation: rotation from the channel's namespace, and the owner's hold on the idle timeout. */
describe('WHIP stream keys: rotation and the owner’s hold', () => {
  const IDLE_MS = 1500;
  let app: TestServer;
  const log = logCapture();
  /** Every secret the tests saw: none may reach the log. */
  const secrets: string[] = [];
  const sockets: Socket[] = [];

  beforeAll(async () => {
    app = await startTestApp(
      // A short idle timeout to see it fire; the source timeout well above a test's steps.
      { CHANNEL_IDLE_TIMEOUT_MS: String(IDLE_MS), SOURCE_MEDIA_TIMEOUT_MS: '4000', MAX_CHANNELS_PER_ADDRESS: '2' },
      { logger: createLogger('debug', log) },
    );
  });
  afterAll(async () => {
    sockets.forEach((s) => s.close());
    await app?.stop();
    const text = JSON.stringify(log.records());
    expect(secrets.length).toBeGreaterThan(0);
    for (const secret of secrets) expect(text).not.toContain(secret);
  });

  async function newChannel() {
    const { channel, streamKey, publishToken } = await app.registry.create();
    secrets.push(streamKey, publishToken);
    return { channel, streamKey, publishToken, endpoint: `${app.url}/whip/${channel.id}` };
  }
  const open = async (channelId: string, auth: object) => {
    const socket = await openSocket(app.url, channelNamespace(channelId), { auth });
    sockets.push(socket);
    return socket;
  };
  const rotate = async (socket: Socket, publishToken: string) => {
    const result = await request<{ streamKey?: string; error?: { code: string; message: string } }>(socket, 'rotateStreamKey', { publishToken });
    if (result.streamKey) secrets.push(result.streamKey);
    return result;
  };
  const post = (endpoint: string, key: string) =>
    fetch(endpoint, { method: 'POST', body: whipOffer(), headers: { 'Content-Type': 'application/sdp', Authorization: `Bearer ${key}` } });
  const del = (location: string, key: string) => fetch(app.url + location, { method: 'DELETE', headers: { Authorization: `Bearer ${key}` } });

  it('rotates the key: the old one gets 401 at once, the new one publishes; a wrong token is unauthorized; an ended channel not-found', async () => {
    const { channel, streamKey: oldKey, publishToken, endpoint } = await newChannel();
    const owner = await open(channel.id, { role: 'owner', publishToken });
    expect(await rotate(owner, oldKey)).toEqual({ error: { code: 'unauthorized', message: 'invalid publish token for this channel' } });
    expect(channel.isStreamKey(oldKey)).toBe(true);

    const { streamKey: newKey } = await rotate(owner, publishToken);
    expect(newKey).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(newKey).not.toBe(oldKey);
    const refused = await post(endpoint, oldKey);
    expect([refused.status, await refused.text()]).toEqual([401, expect.stringContaining('wrong stream key')]);
    const created = await post(endpoint, newKey!);
    expect(created.status).toBe(201);
    const location = created.headers.get('location')!;
    expect((await del(location, oldKey)).status).toBe(401);
    expect((await del(location, newKey!)).status).toBe(200);
    await eventually(() => channel.ended, 'the channel to end');
    expect(await rotate(owner, publishToken)).toMatchObject({ error: { code: 'not-found' } });
  });

  it('keeps a running WHIP session publishing through a rotation; its DELETE then needs the new key', async () => {
    const { channel, streamKey: oldKey, publishToken, endpoint } = await newChannel();
    const created = await post(endpoint, oldKey);
    expect(created.status).toBe(201);
    // Any connection with the publish token may rotate (here a viewer's, as a hand-made client would).
    const viewer = await open(channel.id, { role: 'viewer' });
    const { streamKey: newKey } = await rotate(viewer, publishToken);
    expect(channel.ended).toBe(false);
    expect(channel.tracks()).toHaveLength(2);
    expect((await post(endpoint, oldKey)).status).toBe(401);
    expect((await post(endpoint, newKey!)).status).toBe(409); // the session still holds the channel
    const location = created.headers.get('location')!;
    expect((await del(location, oldKey)).status).toBe(401);
    expect(channel.ended).toBe(false);
    expect((await del(location, newKey!)).status).toBe(200);
    await eventually(() => channel.ended, 'the channel to end');
  });

  it('refuses an owner connection with a wrong token', async () => {
    const { channel, streamKey } = await newChannel();
    await expect(open(channel.id, { role: 'owner', publishToken: streamKey })).rejects.toMatchObject({ data: { code: 'unauthorized' } });
    expect(channel.idleTimerRunning).toBe(true);
    await channel.end('test over');
  });

  it('does not drop a channel as idle while its owner is connected; once the owner leaves, the idle timeout runs again', async () => {
    // Created through the lobby, as the page does: each holds a per-address slot until it ends.
    const lobby = await openSocket(app.url, '/');
    sockets.push(lobby);
    const create = () => request<{ channelId: string; publishToken: string; streamKey: string; error?: { code: string } }>(lobby, 'createChannel', {});
    const held = await create();
    const owner = await open(held.channelId, { role: 'owner', publishToken: held.publishToken });
    const heldChannel = app.registry.get(held.channelId)!;
    expect(heldChannel.idleTimerRunning).toBe(false);
    const idle = await create();
    secrets.push(held.streamKey, held.publishToken, idle.streamKey, idle.publishToken);
    // The per-address limit still counts held channels.
    expect(await create()).toMatchObject({ error: { code: 'full' } });
    const idleChannel = app.registry.get(idle.channelId)!;
    const idleEnded = new Promise<string>((resolve) => idleChannel.once('ended', resolve));

    expect(await idleEnded).toBe('nobody went live on this channel in time');
    await new Promise((resolve) => setTimeout(resolve, IDLE_MS + 1000));
    expect(heldChannel.ended).toBe(false);
    // The owner is not a viewer.
    expect(await (await fetch(`${app.url}/metrics`)).text()).toMatch(/^livecast_viewers\{mode="hls"\} 0$/m);

    const left = Date.now();
    owner.close();
    await eventually(() => heldChannel.ended, 'the released channel to end', IDLE_MS + 5000);
    expect(Date.now() - left).toBeGreaterThanOrEqual(IDLE_MS - 100);
    // Both slots are free again.
    const again = await create();
    expect(again.channelId).toBeTruthy();
    secrets.push(again.streamKey, again.publishToken);
    await app.registry.get(again.channelId)?.end('test over');
  });

  it('still ends a held channel when its encoder stops: DELETE at once, silence after SOURCE_MEDIA_TIMEOUT_MS', async () => {
    const a = await newChannel();
    await open(a.channel.id, { role: 'owner', publishToken: a.publishToken });
    const created = await post(a.endpoint, a.streamKey);
    expect(created.status).toBe(201);
    expect((await del(created.headers.get('location')!, a.streamKey)).status).toBe(200);
    await eventually(() => a.channel.ended, 'the held channel to end on DELETE', 3000);

    const b = await newChannel();
    await open(b.channel.id, { role: 'owner', publishToken: b.publishToken });
    expect((await post(b.endpoint, b.streamKey)).status).toBe(201);
    // This session never completes ICE: the source watch ends it, hold or not.
    const reason = await new Promise<string>((resolve) => b.channel.once('ended', resolve));
    expect(reason).toBe('no media arrived from the broadcaster');
  });
});
