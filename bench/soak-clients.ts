/**
 * The soak's legitimate audience (bench/soak.ts): Socket.IO viewers and HLS viewers that join and
 * leave all the time, each from its own loopback address (127.0.1.x, 127.0.2.x) as real viewers
 * come from their own addresses, so that a per-address limit refusing one of them is a finding and
 * not an artefact of the benchmark. Everything they see is recorded with timestamps, so that the
 * report can compare quiet periods with attack waves.
 */
import { Agent, request as httpRequest } from 'undici';
import { io as connect, type ManagerOptions, type Socket, type SocketOptions } from 'socket.io-client';
import { channelNamespace, hlsPlaylistPath, isError } from '../protocol/index.js';
import { fakeDtls } from '../server/test/helpers/sockets.js';

/** Something that happened at a time (ms, performance.now() clock). */
export interface Timed<T> {
  at: number;
  value: T;
}

export class AudienceLog {
  /** Probe: when the newest listed segment advanced, and by how long after the previous advance. */
  readonly advances: Timed<number>[] = [];
  /** Every HLS request that failed (status ≠ 200 or network error), probe and viewers. */
  readonly hlsErrors: Timed<string>[] = [];
  /** Segment fetch times (ms) of HLS viewers. */
  readonly segmentMs: Timed<number>[] = [];
  /** Socket.IO viewer joins: connect → channelState (ms). */
  readonly joinMs: Timed<number>[] = [];
  /** Anything refused to a legitimate viewer (join or real-time), with the server's message. */
  readonly refusals: Timed<string>[] = [];
  realtimeSessions = 0;
  hlsViewers = 0;
  socketViewers = 0;
  /** The live channel's own events as a long-lived viewer sees them (it must never end). */
  readonly channelEvents: Timed<string>[] = [];
}

const now = () => performance.now();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const between = (min: number, max: number) => min + Math.random() * (max - min);

/**
 * A Socket.IO connection from a given loopback address (engine.io passes localAddress to ws).
 * `firstEvent`: also wait for this event, listened for from the start (the server sends
 * channelState with the connection, before 'connect' is seen here).
 */
export function openSocketFrom(url: string, nsp: string, localAddress: string, auth?: object, firstEvent?: string): Promise<Socket> {
  const options: Partial<ManagerOptions & SocketOptions> & { localAddress: string } = {
    auth,
    localAddress,
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
    timeout: 20_000,
  };
  return new Promise((resolve, reject) => {
    const socket = connect(`${url}${nsp}`, options);
    const first = firstEvent ? new Promise<void>((arrived) => socket.once(firstEvent, () => arrived())) : Promise.resolve();
    socket.once('connect', () => {
      const timer = setTimeout(() => reject(new Error(`connected, but no ${firstEvent} within 15 s`)), 15_000);
      void first.then(() => {
        clearTimeout(timer);
        resolve(socket);
      });
    });
    socket.once('connect_error', (error) => {
      socket.close();
      reject(error);
    });
  });
}

/**
 * One acknowledged request; a refusal (`{ error: { code, message } }`), a timeout or a closed
 * socket all become `{ error: '<code>: <message>' }` for counting.
 */
export async function ask<T extends object>(socket: Socket, event: string, payload: object = {}): Promise<T | { error: string }> {
  try {
    const answer: unknown = await socket.timeout(15_000).emitWithAck(event, payload);
    if (isError(answer)) return { error: `${answer.error.code}: ${answer.error.message}` };
    return answer as T;
  } catch (error) {
    return { error: `no answer: ${error instanceof Error ? error.message : String(error)}` };
  }
}

export const isRefusal = (r: object): r is { error: string } => typeof (r as { error?: unknown }).error === 'string';

const lastMsnOf = (playlist: string): number => {
  const sequence = Number(/#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(playlist)?.[1] ?? NaN);
  const count = playlist.match(/#EXTINF:/g)?.length ?? 0;
  return Number.isFinite(sequence) && count > 0 ? sequence + count - 1 : -1;
};

/**
 * An HLS player with blocking reload (`?_HLS_msn=N`, as the watch page's hls.js does): asks for the
 * next segment's playlist, fetches every new segment once. Runs until `until()` says stop.
 */
async function hlsPlayer(
  url: string,
  channelId: string,
  localAddress: string,
  log: AudienceLog,
  until: () => boolean,
  { probe }: { probe: boolean },
): Promise<void> {
  const agent = new Agent({ localAddress, keepAliveTimeout: 10_000, connections: 2 });
  const base = `${url}/hls/${channelId}/`;
  const who = probe ? 'probe' : `viewer ${localAddress}`;
  /** `context`: what the report should say about a failure (e.g. how long ago a segment was listed). */
  const get = async (target: string, context = ''): Promise<{ status: number; body: Buffer } | null> => {
    const file = target.slice(target.lastIndexOf('/') + 1).replace(/\?.*/, '');
    try {
      const res = await httpRequest(target, { dispatcher: agent, headersTimeout: 15_000, bodyTimeout: 15_000 });
      const body = Buffer.from(await res.body.arrayBuffer());
      if (res.statusCode !== 200) log.hlsErrors.push({ at: now(), value: `${res.statusCode} ${file} (${who}${context})` });
      return { status: res.statusCode, body };
    } catch (error) {
      log.hlsErrors.push({ at: now(), value: `${(error as { code?: string }).code ?? String(error)} ${file} (${who}${context})` });
      return null;
    }
  };
  let last = -1;
  let lastAdvanceAt = now();
  const fetched = new Set<string>();
  try {
    while (!until()) {
      const res = await get(`${url}${hlsPlaylistPath(channelId)}${last >= 0 ? `?_HLS_msn=${last + 1}` : ''}`);
      if (!res || res.status !== 200) {
        await sleep(500);
        continue;
      }
      const text = res.body.toString();
      const msn = lastMsnOf(text);
      if (msn > last) {
        const at = now();
        const listedAt = at;
        if (probe && last >= 0) log.advances.push({ at, value: at - lastAdvanceAt });
        lastAdvanceAt = at;
        const names = [...text.matchAll(/^(seg_\d+\.m4s)$/gm)].map((m) => m[1]!);
        // A player joining starts at the live edge: only the newest segment, then each new one.
        for (const name of last < 0 ? names.slice(-1) : names.filter((n) => !fetched.has(n))) {
          fetched.add(name);
          const t = now();
          const seg = await get(`${base}${name}`, `, ${Math.round(now() - listedAt)} ms after a playlist that listed it, newest ${msn}`);
          if (seg?.status === 200 && !probe) log.segmentMs.push({ at: t, value: now() - t });
        }
        if (fetched.size > 64) for (const name of [...fetched].slice(0, fetched.size - 32)) fetched.delete(name);
        last = msn;
      }
    }
  } finally {
    await agent.close().catch(() => undefined);
  }
}

/** The stall meter: one player for the whole run, from its own address. */
export function startProbe(url: string, channelId: string, log: AudienceLog, until: () => boolean): Promise<void> {
  return hlsPlayer(url, channelId, '127.0.0.2', log, until, { probe: true });
}

/** A long-lived viewer of the live channel, recording anything that says it ended or changed phase. */
export async function startWatcher(url: string, channelId: string, log: AudienceLog): Promise<Socket> {
  const socket = await openSocketFrom(url, channelNamespace(channelId), '127.0.0.3', { role: 'viewer' });
  let phase = '';
  socket.on('channelState', (state: { phase: string; hls: { paused?: string } | null }) => {
    const text = `${state.phase}${state.hls?.paused ? ` (HLS paused: ${state.hls.paused})` : ''}`;
    if (text !== phase) log.channelEvents.push({ at: now(), value: `state ${text}` });
    phase = text;
  });
  socket.on('streamEnded', ({ reason }: { reason: string }) => log.channelEvents.push({ at: now(), value: `ended: ${reason}` }));
  socket.on('disconnect', (reason) => {
    if (reason !== 'io client disconnect') log.channelEvents.push({ at: now(), value: `watcher disconnected: ${reason}` });
  });
  return socket;
}

export interface ChurnOptions {
  url: string;
  channelId: string;
  /** Socket.IO viewers present at any time; each stays 5–40 s, then another one joins. */
  socketViewers: number;
  /** Share of Socket.IO viewers that also open a real-time (WebRTC) session. */
  realtimeShare: number;
  /** HLS viewers present at any time; each stays 10–60 s. */
  hlsViewers: number;
  log: AudienceLog;
}

/**
 * A real-time viewer's signalling, without a browser: transport, fake DTLS, paused consumers,
 * resume. ICE never starts, so the session holds its transport (ports) until the viewer leaves —
 * which is what the server must release.
 */
async function watchInRealTime(socket: Socket, log: AudienceLog): Promise<boolean> {
  const caps = await ask<{ rtpCapabilities: object }>(socket, 'getRouterRtpCapabilities');
  if (isRefusal(caps)) return refused(log, 'getRouterRtpCapabilities', caps.error);
  const transport = await ask<{ id: string }>(socket, 'createConsumerTransport');
  if (isRefusal(transport)) return refused(log, 'createConsumerTransport', transport.error);
  const connected = await ask(socket, 'connectConsumerTransport', { dtlsParameters: fakeDtls });
  if (isRefusal(connected)) return refused(log, 'connectConsumerTransport', connected.error);
  const consumed = await ask<{ consumers: { id: string }[] }>(socket, 'consume', { rtpCapabilities: caps.rtpCapabilities });
  if (isRefusal(consumed)) return refused(log, 'consume', consumed.error);
  for (const c of consumed.consumers) {
    const resumed = await ask(socket, 'resumeConsumer', { consumerId: c.id });
    if (isRefusal(resumed)) return refused(log, 'resumeConsumer', resumed.error);
  }
  return true;
}

function refused(log: AudienceLog, what: string, message: string): false {
  log.refusals.push({ at: now(), value: `${what}: ${message}` });
  return false;
}

async function socketViewer(o: ChurnOptions, localAddress: string, until: () => boolean): Promise<void> {
  const t = now();
  let socket: Socket;
  try {
    socket = await openSocketFrom(o.url, channelNamespace(o.channelId), localAddress, { role: 'viewer' }, 'channelState');
  } catch (error) {
    refused(o.log, 'join', error instanceof Error ? error.message : String(error));
    return;
  }
  o.log.joinMs.push({ at: t, value: now() - t });
  o.log.socketViewers++;
  let realtime = false;
  try {
    if (Math.random() < o.realtimeShare && (await watchInRealTime(socket, o.log))) {
      realtime = true;
      o.log.realtimeSessions++;
    }
    const leaveAt = now() + between(5_000, 40_000);
    while (now() < leaveAt && !until()) await sleep(250);
  } finally {
    if (realtime) o.log.realtimeSessions--;
    o.log.socketViewers--;
    // Most viewers close the page (a clean disconnect); some just vanish (network gone).
    if (Math.random() < 0.8) socket.disconnect();
    else socket.io.engine.close();
  }
}

/** Keeps `count` copies of `viewer` running until `until()`, each replaced as soon as it leaves. */
async function keepPresent(count: number, until: () => boolean, viewer: (slot: number, generation: number) => Promise<void>): Promise<void> {
  await Promise.all(
    Array.from({ length: count }, async (_, slot) => {
      // Staggered start: viewers arrive over the first few seconds, not in one burst.
      await sleep((slot / Math.max(1, count)) * 5000);
      for (let generation = 0; !until(); generation++) {
        await viewer(slot, generation).catch(() => undefined);
        await sleep(between(100, 1500));
      }
    }),
  );
}

/** Runs the churning audience until `until()`; resolves when every viewer has left. */
export function startChurn(o: ChurnOptions, until: () => boolean): Promise<void> {
  // Addresses rotate over 250 per kind, so a returning address is a new viewer on the same network.
  const address = (block: number, slot: number, generation: number) => `127.0.${block}.${1 + ((slot * 7 + generation) % 250)}`;
  const sockets = keepPresent(o.socketViewers, until, (slot, g) => socketViewer(o, address(1, slot, g), until));
  const players = keepPresent(o.hlsViewers, until, async (slot, g) => {
    const leaveAt = now() + between(10_000, 60_000);
    o.log.hlsViewers++;
    try {
      await hlsPlayer(o.url, o.channelId, address(2, slot, g), o.log, () => until() || now() > leaveAt, { probe: false });
    } finally {
      o.log.hlsViewers--;
    }
  });
  return Promise.all([sockets, players]).then(() => undefined);
}
