/**
 * Every message of the Socket.IO protocol, declared once with zod: client requests (validated by
 * the server), their results, server events and the channel state. Types are derived from these
 * in ./index.ts with type-only imports, so the web bundle, which only needs the types, does not
 * ship zod.
 */
import { z } from 'zod';
import type { types as ms } from 'mediasoup-client';

// ---------------------------------------------------------------- errors

/** Every error a client can get, by what it should do about it. */
export const errorCode = z.enum([
  /** The channel (or consumer…) does not exist or has ended. */
  'not-found',
  /** The request does not fit the current state (already exists, not yet started, carried elsewhere). */
  'conflict',
  /** A secret is missing or wrong (publish key, publish token), or the role does not allow it. */
  'unauthorized',
  /** A limit is reached (server, channel or per-client); try later or elsewhere. */
  'full',
  /** The request itself is malformed. */
  'bad-request',
  /** Something broke on the server; the details are in its log, not in the message. */
  'internal',
]);
export const ackError = z.object({ code: errorCode, message: z.string() });
export const errorResult = z.object({ error: ackError });

// ---------------------------------------------------------------- shared values

const count = z.number().int().min(0);

/** Audience of a channel: every viewer once, and how many of them watch in real time. */
export const audience = z.object({ viewers: count, realtime: count });

export const channelPhase = z.enum(['waiting', 'live', 'ended']);

/** No control characters (a title is one line; a description may have line breaks). */
const noControls = /^[^\p{Cc}]*$/u;
const noControlsButNewlines = /^(?:[^\p{Cc}]|\n)*$/u;

/** What the broadcaster calls the stream: shown on the watch page, in the directory and in link previews. */
export const streamTitle = z.string().trim().max(100, 'a title has at most 100 characters').regex(noControls, 'a title cannot contain control characters');
export const streamDescription = z
  .string()
  .trim()
  .max(500, 'a description has at most 500 characters')
  .regex(noControlsButNewlines, 'a description cannot contain control characters other than line breaks');

/** What a channel itself knows of its state (the server adds where it is served from). */
export const channelMediaState = z.object({
  channelId: z.string(),
  phase: channelPhase,
  /** '' until the broadcaster gives one. */
  title: z.string(),
  description: z.string(),
  /**
   * Set once the first LL-HLS segment is complete; the watch page starts playing then.
   */
  hls: z.object({ playlist: z.string(), segmentSeconds: z.number() }).nullable(),
  /** Real-time (WebRTC) viewing is possible: the broadcaster's tracks are there. */
  realtime: z.boolean(),
  /** Beyond this many real-time viewers, new viewers get HLS (one router is never overloaded). */
  realtimeLimit: count,
  /**
   * The broadcast is being recorded: its recording's playlist (EVENT while live, at the channel's
   * origin) lets a viewer seek back to the start (DVR). Null when recording is off or has failed.
   */
  recording: z.object({ playlist: z.string() }).nullable().default(null),
});

/** What the channel is doing, as shown to the broadcaster and viewers. */
export const channelState = channelMediaState.extend({
  /**
   * Base URL of the server instance that carries the channel (its HLS files, its broadcaster)
   * when several instances share the load; null when the page's own server does. Real-time
   * viewing works through any instance (it relays the channel).
   */
  origin: z.string().nullable(),
});

export const directoryEntry = z.object({
  channelId: z.string(),
  title: z.string(),
  viewers: count,
  /** When the stream went live (ms since epoch). */
  liveSince: z.number(),
});

// mediasoup validates RTP and DTLS parameters in depth; these schemas check the envelope so that a
// wrong shape gets a readable error here instead of an exception deep inside a handler.

const empty = z.object({}).strict();

const dtlsParameters = z.object({
  role: z.enum(['auto', 'client', 'server']).optional(),
  fingerprints: z
    .array(z.object({ algorithm: z.enum(['sha-1', 'sha-224', 'sha-256', 'sha-384', 'sha-512']), value: z.string().max(256) }))
    .min(1)
    .max(8),
});

/** RTP payload types are 7 bits (RFC 3550); SSRCs 32 bits. */
const payloadType = z.number().int().min(0).max(127);
const ssrc = z.number().int().min(0).max(0xffff_ffff);

const rtpParameters = z.looseObject({
  mid: z.string().max(32).optional(),
  codecs: z
    .array(z.looseObject({ mimeType: z.string().regex(/^(audio|video)\/[A-Za-z0-9.+-]{1,32}$/), payloadType, clockRate: z.number().int().min(1).max(192_000) }))
    .min(1)
    .max(32),
  headerExtensions: z.array(z.looseObject({ uri: z.string().max(256), id: z.number().int().min(1).max(255) })).max(32).optional(),
  encodings: z.array(z.looseObject({ ssrc: ssrc.optional(), rtx: z.looseObject({ ssrc }).optional() })).max(8).optional(),
  rtcp: z.looseObject({ cname: z.string().max(256).optional() }).optional(),
});

export const mediaKind = z.enum(['audio', 'video']);

/** The channel's secret from `createChannel`, held by the page that created it. */
const publishToken = z.string().min(1).max(128);

export const channelAuth = z.discriminatedUnion('role', [
  z.object({ role: z.literal('viewer') }),
  z.object({
    role: z.literal('broadcaster'),
    publishToken,
    /** Random per publishing page: a reconnect of the same page may replace its stale connection. */
    session: z.string().min(8).max(64).optional(),
  }),
  /**
   * The page that created the channel for an encoder, following it without publishing or being
   * counted as a viewer; while it is connected the channel is not dropped as idle.
   */
  z.object({ role: z.literal('owner'), publishToken }),
]);

const rtpCapabilities = z.looseObject({
  codecs: z.array(z.looseObject({ mimeType: z.string().max(64), kind: mediaKind, clockRate: z.number().int() })).max(64).optional(),
  headerExtensions: z.array(z.looseObject({})).max(64).optional(),
});

const consumerId = z.string().min(1).max(64);

/** The camera's frame size as the broadcaster captures it (names the simulcast layers: 720p, 360p…). */
const frameSize = z.object({ width: z.number().int().min(1).max(8192), height: z.number().int().min(1).max(8192) }).strict();

/** A real-time viewer's quality: mediasoup's choice from the viewer's bandwidth, or at most that spatial layer. */
export const qualityChoice = z.union([z.literal('auto'), z.number().int().min(0).max(7)]);

// ---------------------------------------------------------------- requests (client → server)

export const lobbyRequestSchemas = {
  /** `publishKey` is needed only when the server is configured with one (PUBLISH_KEY). */
  createChannel: z.object({ publishKey: z.string().max(256).optional() }).strict(),
  /** Joins the live directory: the ack carries the current list, then `directory` pushes follow. */
  watchDirectory: empty,
} as const;

export const channelRequestSchemas = {
  getRouterRtpCapabilities: empty,
  createProducerTransport: empty,
  connectProducerTransport: z.object({ dtlsParameters }).strict(),
  /** `frameSize`: the video track's, when the broadcaster knows it (simulcast layers are named from it). */
  produce: z.object({ kind: mediaKind, rtpParameters, frameSize: frameSize.optional() }).strict(),
  stopBroadcast: empty,
  // Real-time (WebRTC) viewing, the mirror image of publishing.
  createConsumerTransport: empty,
  connectConsumerTransport: z.object({ dtlsParameters }).strict(),
  consume: z.object({ rtpCapabilities }).strict(),
  resumeConsumer: z.object({ consumerId }).strict(),
  /** Pins the video to one simulcast layer (or at most it, when the bandwidth cannot carry it), or back to automatic. */
  setQuality: z.object({ layer: qualityChoice }).strict(),
  /** Leaves real-time viewing (e.g. to fall back to HLS); the viewer stays counted. */
  stopConsuming: empty,
  /** Replaces the channel's WHIP stream key; the old one stops working at once. Any connection may ask, with the token. */
  rotateStreamKey: z.object({ publishToken }).strict(),
  /** The broadcaster names the stream (before or while live); every page of the channel sees it at once. */
  setDetails: z.object({ publishToken, title: streamTitle, description: streamDescription.default('') }).strict(),
} as const;

// ---------------------------------------------------------------- results (server → client acks)

// mediasoup's own types for what mediasoup produces (the server never validates its own results).
const transportOptions = z.object({
  id: z.string(),
  iceParameters: z.custom<ms.IceParameters>(),
  iceCandidates: z.array(z.custom<ms.IceCandidate>()),
  dtlsParameters: z.custom<ms.DtlsParameters>(),
});

/** One simulcast layer of the channel's video, lowest first; `height` null when the broadcaster did not say its frame size. */
const videoLayer = z.object({ spatialLayer: z.number().int(), height: z.number().int().nullable() });

const consumerInfo = z.object({
  id: z.string(),
  producerId: z.string(),
  kind: mediaKind,
  rtpParameters: z.custom<ms.RtpParameters>(),
});

export const lobbyResultSchemas = {
  /**
   * `origin`: the instance that carries the channel (null: this one); the broadcaster connects there.
   * `streamKey`: the bearer token for WHIP (`POST <origin>/whip/<channelId>`), for an encoder such as OBS.
   */
  createChannel: z.object({
    channelId: z.string(),
    publishToken: z.string(),
    streamKey: z.string(),
    origin: z.string().nullable(),
    /**
     * Where encoders publish besides WHIP: `rtmp://<host>:<rtmpPort>/live/<streamKey>` (and
     * `rtmps://…:<rtmpsPort>/…`), `srt://<host>:<srtPort>?passphrase=<streamKey>`; null when off.
     */
    ingest: z.object({ rtmpPort: z.number().int().nullable(), rtmpsPort: z.number().int().nullable(), srtPort: z.number().int().nullable() }),
  }),
  watchDirectory: z.object({ channels: z.array(directoryEntry) }),
} as const;

export const channelResultSchemas = {
  getRouterRtpCapabilities: z.object({ rtpCapabilities: z.custom<ms.RtpCapabilities>() }),
  /** `simulcast`: whether the server wants the camera sent as simulcast layers (SIMULCAST). */
  createProducerTransport: transportOptions.extend({ simulcast: z.boolean() }),
  connectProducerTransport: z.object({ connected: z.literal(true) }),
  produce: z.object({ producerId: z.string() }),
  stopBroadcast: z.object({ stopped: z.literal(true) }),
  createConsumerTransport: transportOptions,
  connectConsumerTransport: z.object({ connected: z.literal(true) }),
  /** `layers`: the video's simulcast layers a viewer may choose from (empty: one quality only). */
  consume: z.object({ consumers: z.array(consumerInfo), layers: z.array(videoLayer) }),
  resumeConsumer: z.object({ resumed: z.literal(true) }),
  setQuality: z.object({ layer: qualityChoice }),
  stopConsuming: z.object({ stopped: z.literal(true) }),
  rotateStreamKey: z.object({ streamKey: z.string() }),
  setDetails: z.object({ title: z.string(), description: z.string() }),
} as const;

// ---------------------------------------------------------------- server events (server → client)

export const lobbyEventSchemas = {
  /** The live channels, pushed (coalesced) whenever one starts, ends or its audience changes. */
  directory: z.object({ channels: z.array(directoryEntry) }),
} as const;

export const channelEventSchemas = {
  channelState: channelState,
  viewerCount: audience,
  streamEnded: z.object({ reason: z.string() }),
} as const;

/** One channel event as a value (what instances relay to each other's viewers). */
export const channelBroadcast = z.discriminatedUnion('event', [
  z.object({ event: z.literal('channelState'), args: z.tuple([channelEventSchemas.channelState]) }),
  z.object({ event: z.literal('viewerCount'), args: z.tuple([channelEventSchemas.viewerCount]) }),
  z.object({ event: z.literal('streamEnded'), args: z.tuple([channelEventSchemas.streamEnded]) }),
]);

/** A Socket.IO connect error's `data`: the code, for clients to branch on (the message is for people). */
export const connectErrorData = z.object({ code: errorCode });

// ---------------------------------------------------------------- recordings (HTTP, JSON)

export const recordingStatus = z.enum([
  /** The broadcast is live and being written. */
  'recording',
  /** The broadcast ended and every segment was written. */
  'complete',
  /** The server stopped without finishing it (killed, crashed): playable up to its last complete segment. */
  'interrupted',
  /** Writing failed (full disk, unwritable directory): playable up to the last segment written. */
  'failed',
]);

/** One recording as `GET /recordings` lists it and `GET /recordings/<id>` describes it. */
export const recordingEntry = z.object({
  recordingId: z.string(),
  title: z.string(),
  description: z.string(),
  status: recordingStatus,
  /** When the broadcast started and ended (ms since epoch); null while it is live. */
  startedAt: z.number(),
  endedAt: z.number().nullable(),
  /** Seconds of media written so far. */
  duration: z.number(),
  bytes: z.number(),
  /** Listed in "Recent broadcasts"; unlisted recordings are reachable by their link only. */
  listed: z.boolean(),
  hasThumbnail: z.boolean(),
  /** The instance that holds it, where its files are fetched from (null: the server answering). */
  origin: z.string().nullable(),
});

export const recordingList = z.object({ recordings: z.array(recordingEntry) });

/** `PATCH /recordings/<id>` (with the publish token as bearer): the broadcaster's choices. */
export const recordingUpdate = z.object({ listed: z.boolean() }).strict();
