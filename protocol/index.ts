/**
 * The Socket.IO protocol between the server and the web pages: namespaces, event names, payload
 * schemas and acknowledgement shapes. Both sides import this module, so a renamed event or a
 * changed payload is a type error on both ends rather than a silent mismatch.
 *
 * Every client→server event is `(payload, ack)`. The ack is always called exactly once, with
 * either the result or `{ error }`. The server validates payloads with ./schemas.ts.
 */
import type { z } from 'zod';
import type { types as ms } from 'mediasoup-client';
import type { channelRequestSchemas, lobbyRequestSchemas } from './schemas.js';

export type { ChannelAuth } from './schemas.js';

/** Unguessable, URL-safe: 128 random bits as base64url (22 chars). */
export const CHANNEL_ID_PATTERN = /^[A-Za-z0-9_-]{22}$/;
export const CHANNEL_NAMESPACE_PATTERN = /^\/channel\/([A-Za-z0-9_-]{22})$/;
export const channelNamespace = (channelId: string): string => `/channel/${channelId}`;
export const hlsPlaylistPath = (channelId: string): string => `/hls/${channelId}/index.m3u8`;

export type ErrorResult = { error: string };
export type AckResult<T> = T | ErrorResult;
export type Ack<T> = (result: AckResult<T>) => void;

export const isError = (result: unknown): result is ErrorResult =>
  typeof result === 'object' && result !== null && typeof (result as ErrorResult).error === 'string';

// ---------------------------------------------------------------- results

export type TransportOptions = {
  id: string;
  iceParameters: ms.IceParameters;
  iceCandidates: ms.IceCandidate[];
  dtlsParameters: ms.DtlsParameters;
};

export interface DirectoryEntry {
  channelId: string;
  viewers: number;
  /** When the stream went live (ms since epoch). */
  liveSince: number;
}

export interface LobbyResults {
  /** `origin`: the instance that carries the channel (null: this one); the broadcaster connects there. */
  createChannel: { channelId: string; publishToken: string; origin: string | null };
  watchDirectory: { channels: DirectoryEntry[] };
}

export interface ConsumerInfo {
  id: string;
  producerId: string;
  kind: 'audio' | 'video';
  rtpParameters: ms.RtpParameters;
}

export interface ChannelResults {
  getRouterRtpCapabilities: { rtpCapabilities: ms.RtpCapabilities };
  createProducerTransport: TransportOptions;
  connectProducerTransport: { connected: true };
  produce: { producerId: string };
  stopBroadcast: { stopped: true };
  createConsumerTransport: TransportOptions;
  connectConsumerTransport: { connected: true };
  consume: { consumers: ConsumerInfo[] };
  resumeConsumer: { resumed: true };
  stopConsuming: { stopped: true };
}

// ---------------------------------------------------------------- events (Socket.IO generics)

type Requests<S extends Record<string, z.ZodType>, R extends { [K in keyof S]: unknown }> = {
  [K in keyof S & keyof R & string]: (payload: z.input<S[K]>, ack: Ack<R[K]>) => void;
};

export type LobbyClientToServer = Requests<typeof lobbyRequestSchemas, LobbyResults>;
export interface LobbyServerToClient {
  /** The live channels, pushed (coalesced) whenever one starts, ends or its audience changes. */
  directory: (update: { channels: DirectoryEntry[] }) => void;
}

/** What the channel is doing, as shown to the broadcaster and viewers. */
export type ChannelPhase = 'waiting' | 'live' | 'ended';
export interface ChannelState {
  channelId: string;
  phase: ChannelPhase;
  /** Set once FFmpeg has written the first playlist; the watch page starts playing then. */
  /** `paused`: why the server cannot produce HLS right now (it resumes by itself); absent while it runs. */
  hls: { playlist: string; segmentSeconds: number; paused?: string } | null;
  /** Real-time (WebRTC) viewing is possible: the broadcaster's tracks are there. */
  realtime: boolean;
  /** Beyond this many real-time viewers, new viewers get HLS (one router is never overloaded). */
  realtimeLimit: number;
  /**
   * Base URL of the server instance that carries the channel (its HLS files, its broadcaster)
   * when several instances share the load; null when the page's own server does. Real-time
   * viewing works through any instance (it relays the channel).
   */
  origin: string | null;
}

/** Audience of a channel: every viewer once, and how many of them watch in real time. */
export interface Audience {
  viewers: number;
  realtime: number;
}

export type ChannelClientToServer = Requests<typeof channelRequestSchemas, ChannelResults>;
export interface ChannelServerToClient {
  channelState: (state: ChannelState) => void;
  viewerCount: (update: Audience) => void;
  streamEnded: (notice: { reason: string }) => void;
}

/** One server→client channel event as a value (what instances relay to each other's viewers). */
export type ChannelBroadcast = {
  [K in keyof ChannelServerToClient]: { event: K; args: Parameters<ChannelServerToClient[K]> };
}[keyof ChannelServerToClient];

/** Resolves a path of the channel's origin (or of the page's own server when `origin` is null). */
export const atOrigin = (origin: string | null, path: string): string => (origin ? new URL(path, origin).href : path);


/** Limit Socket.IO's per-message buffer to what the protocol needs (rtpParameters are a few KB). */
export const MAX_MESSAGE_BYTES = 64 * 1024;
