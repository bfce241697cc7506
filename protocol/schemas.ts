/**
 * Runtime validation of client→server payloads (zod), used by the server. Kept apart from
 * index.ts so that the web bundle, which only needs the types, does not ship zod.
 */
import { z } from 'zod';

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

export const channelAuth = z.discriminatedUnion('role', [
  z.object({ role: z.literal('viewer') }),
  z.object({
    role: z.literal('broadcaster'),
    publishToken: z.string().min(1).max(128),
    /** Random per publishing page: a reconnect of the same page may replace its stale connection. */
    session: z.string().min(8).max(64).optional(),
  }),
]);
export type ChannelAuth = z.infer<typeof channelAuth>;

const rtpCapabilities = z.looseObject({
  codecs: z.array(z.looseObject({ mimeType: z.string().max(64), kind: mediaKind, clockRate: z.number().int() })).max(64).optional(),
  headerExtensions: z.array(z.looseObject({})).max(64).optional(),
});

const consumerId = z.string().min(1).max(64);

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
  produce: z.object({ kind: mediaKind, rtpParameters }).strict(),
  stopBroadcast: empty,
  // Real-time (WebRTC) viewing, the mirror image of publishing.
  createConsumerTransport: empty,
  connectConsumerTransport: z.object({ dtlsParameters }).strict(),
  consume: z.object({ rtpCapabilities }).strict(),
  resumeConsumer: z.object({ consumerId }).strict(),
  /** Leaves real-time viewing (e.g. to fall back to HLS); the viewer stays counted. */
  stopConsuming: empty,
} as const;
