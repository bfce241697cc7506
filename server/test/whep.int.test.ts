import sdpTransform from 'sdp-transform';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, udpSocketCount } from './helpers/processes.js';
import type { TestServer } from './helpers/server.js';
import { startFedChannel, startTestApp, type FedChannel } from './helpers/test-app.js';
import { whepOffer, whipOffer } from './helpers/whip-offer.js';

/**
 * WHEP playback's HTTP surface and resource handling against a real server with a channel fed by
 * FFmpeg over RTP; the media reaching a real player is proven in e2e/whep.spec.ts.
 */
describe('WHEP playback', () => {
  let app: TestServer;
  let fed: FedChannel;
  let endpoint: string;
  const LIMIT = 40;

  beforeAll(async () => {
    app = await startTestApp({ REALTIME_VIEWERS_PER_ADDRESS: String(LIMIT), REALTIME_VIEWERS_PER_CHANNEL: '100' });
    fed = await startFedChannel(app);
    endpoint = `${app.url}/whep/${fed.channel.id}`;
  });
  afterAll(async () => {
    await fed?.stop();
    await app?.stop();
  });

  const post = (body: string, headers: Record<string, string> = { 'Content-Type': 'application/sdp' }, url = endpoint) => fetch(url, { method: 'POST', body, headers });
  const metric = async (pattern: RegExp) => Number(pattern.exec(await (await fetch(`${app.url}/metrics`)).text())?.[1] ?? NaN);
  const routers = async () => (await Promise.all(app.pool.workers.map((w) => w.dump()))).reduce((n, d) => n + d.routerIds.length, 0);

  it('plays: 201 with a sendonly answer under the player’s payload types, counted as a real-time viewer; DELETE releases it', async () => {
    const res = await post(whepOffer());
    expect(res.status).toBe(201);
    expect(res.headers.get('content-type')).toBe('application/sdp');
    expect(res.headers.get('access-control-expose-headers')).toContain('Location');
    const location = res.headers.get('location')!;
    expect(location).toMatch(new RegExp(`^/whep/${fed.channel.id}/[A-Za-z0-9_-]{22}$`));
    const answer = sdpTransform.parse(await res.text());
    expect(answer.icelite).toBe('ice-lite');
    expect(answer.media.map((m) => [m.type, String(m.mid), m.direction])).toEqual([['audio', '0', 'sendonly'], ['video', '1', 'sendonly']]);
    // The player's own payload types (its offer's), whatever the channel router uses.
    expect(answer.media[0]!.rtp.map((r) => [r.payload, r.codec])).toEqual([[111, 'opus']]);
    expect(answer.media[1]!.rtp[0]).toMatchObject({ payload: 102, codec: 'H264' });
    expect(answer.media.every((m) => (m.ssrcs?.length ?? 0) > 0 && m.candidates?.[0]?.ip === '127.0.0.1')).toBe(true);

    expect(fed.channel.realtime.count).toBe(1);
    expect(fed.channel.realtime.standaloneCount).toBe(1);
    expect(fed.channel.realtime.egressRouters).toBe(1);
    // Everywhere a real-time viewer is counted: the metrics (and HLS viewers do not go negative).
    expect(await metric(/^livecast_viewers\{mode="realtime"\} (\d+)$/m)).toBe(1);
    expect(await metric(/^livecast_viewers\{mode="hls"\} (-?\d+)$/m)).toBe(0);

    const deleted = await fetch(app.url + location, { method: 'DELETE' });
    expect(deleted.status).toBe(200);
    await eventually(() => fed.channel.realtime.count === 0 && fed.channel.realtime.egressRouters === 0, 'the session and its egress router to close');
    expect((await fetch(app.url + location, { method: 'DELETE' })).status).toBe(404);
    expect(app.limits.realtimePerAddress.size).toBe(0);
  });

  it('answers bad requests clearly: 404, 415, 413, 400 with the reason, 405 for trickle, CORS preflight', async () => {
    expect((await post(whepOffer(), undefined, `${app.url}/whep/NoSuchChannel0000000000`)).status).toBe(404);
    expect((await post(whepOffer(), { 'Content-Type': 'text/plain' })).status).toBe(415);
    expect((await post('v=0\r\n' + 'a=x\r\n'.repeat(20_000))).status).toBe(413);
    const sendonly = await post(whipOffer());
    expect(sendonly.status).toBe(400);
    expect(await sendonly.text()).toMatch(/must receive \(recvonly\)/);
    const garbage = await post('not sdp at all');
    expect(garbage.status).toBe(400);
    const highOnly = await post(whepOffer().replace('profile-level-id=42e01f', 'profile-level-id=640c1f').replace(/VP9/g, 'AV1'));
    expect(highOnly.status).toBe(409);
    expect(await highOnly.text()).toMatch(/cannot decode the channel’s video/);
    expect((await fetch(endpoint, { method: 'PATCH', body: 'a=candidate', headers: { 'Content-Type': 'application/trickle-ice-sdpfrag' } })).status).toBe(405);
    const preflight = await fetch(endpoint, { method: 'OPTIONS' });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-methods')).toContain('POST');
    expect(fed.channel.realtime.count).toBe(0);
  });

  it('leaves nothing behind: 30 play/DELETE cycles, and 30 sessions abandoned before ICE are released; the per-address limit holds', async () => {
    await eventually(() => fed.channel.realtime.count === 0, 'earlier sessions to be gone');
    const sockets = await udpSocketCount();
    const routersBefore = await routers();
    for (let i = 0; i < 30; i++) {
      const res = await post(whepOffer());
      expect(res.status).toBe(201);
      expect(await udpSocketCount()).toBeGreaterThan(sockets); // the session's transport really listens
      expect((await fetch(app.url + res.headers.get('location')!, { method: 'DELETE' })).status).toBe(200);
    }
    await eventually(async () => fed.channel.realtime.count === 0 && (await routers()) === routersBefore && (await udpSocketCount()) === sockets, 'cycled sessions to be freed');

    const abandoned = await Promise.all(Array.from({ length: 30 }, () => post(whepOffer())));
    expect(abandoned.map((r) => r.status)).toEqual(Array(30).fill(201));
    expect(fed.channel.realtime.count).toBe(30);
    const statuses = await Promise.all(Array.from({ length: LIMIT - 30 + 1 }, async () => (await post(whepOffer())).status));
    expect(statuses.filter((s) => s === 503)).toHaveLength(1); // this address's limit, shared with the watch page's real-time viewers
    // Nobody completes ICE: released after the connect deadline (10 s), with their egress router.
    await eventually(() => fed.channel.realtime.count === 0, 'abandoned sessions to be released', 20_000);
    await eventually(async () => (await routers()) === routersBefore && (await udpSocketCount()) === sockets && fed.channel.realtime.egressRouters === 0, 'transports, egress routers and sockets to be freed');
    expect(app.limits.realtimePerAddress.size).toBe(0);
  }, 60_000);
});
