/**
 * The Socket.IO protocol between the server and the web pages: namespaces, event names, payloads
 * and acknowledgement shapes, all derived from the zod declarations in ./schemas.ts (type-only
 * imports: the web bundle does not ship zod). Both sides import this module, so a renamed event
 * or a changed payload is a type error on both ends rather than a silent mismatch.
 *
 * Every client→server event is `(payload, ack)`. The ack is always called exactly once, with
 * either the result or `{ error: { code, message } }`. The server validates payloads with the
 * request schemas.
 */
import type { z } from 'zod';
import type {
  ackError,
  audience,
  channelAuth,
  channelBroadcast,
  channelEventSchemas,
  channelMediaState,
  channelPhase,
  channelRequestSchemas,
  channelResultSchemas,
  channelState,
  connectErrorData,
  directoryEntry,
  errorCode,
  lobbyEventSchemas,
  lobbyRequestSchemas,
  lobbyResultSchemas,
  qualityChoice,
  recordingEntry,
  recordingList,
  recordingStatus,
  recordingUpdate,
} from './schemas.js';

export * from './ids.js';
export type ChannelAuth = z.infer<typeof channelAuth>;

export type ErrorCode = z.infer<typeof errorCode>;
export type AckError = z.infer<typeof ackError>;
export type ErrorResult = { error: AckError };
export type AckResult<T> = T | ErrorResult;
export type Ack<T> = (result: AckResult<T>) => void;
export type ConnectErrorData = z.infer<typeof connectErrorData>;

export const isError = (result: unknown): result is ErrorResult =>
  typeof result === 'object' &&
  result !== null &&
  typeof (result as Partial<ErrorResult>).error === 'object' &&
  typeof (result as Partial<ErrorResult>).error?.code === 'string';

/** The code of a Socket.IO connect error the server refused with (undefined: a network error). */
export const connectErrorCode = (error: Error & { data?: unknown }): ErrorCode | undefined =>
  typeof error.data === 'object' && error.data !== null && 'code' in error.data ? (error.data as ConnectErrorData).code : undefined;

export type Audience = z.infer<typeof audience>;
export type ChannelPhase = z.infer<typeof channelPhase>;
export type ChannelState = z.infer<typeof channelState>;
export type ChannelMediaState = z.infer<typeof channelMediaState>;
export type DirectoryEntry = z.infer<typeof directoryEntry>;
export type RecordingEntry = z.infer<typeof recordingEntry>;
export type RecordingList = z.infer<typeof recordingList>;
export type RecordingStatus = z.infer<typeof recordingStatus>;
export type RecordingUpdate = z.infer<typeof recordingUpdate>;

type Outputs<S extends Record<string, z.ZodType>> = { [K in keyof S]: z.output<S[K]> };
export type LobbyResults = Outputs<typeof lobbyResultSchemas>;
export type ChannelResults = Outputs<typeof channelResultSchemas>;
export type TransportOptions = ChannelResults['createConsumerTransport'];
export type ProducerTransportOptions = ChannelResults['createProducerTransport'];
export type ConsumerInfo = ChannelResults['consume']['consumers'][number];
export type VideoLayer = ChannelResults['consume']['layers'][number];
export type Consumption = ChannelResults['consume'];
export type QualityChoice = z.infer<typeof qualityChoice>;
export type FrameSize = NonNullable<z.infer<typeof channelRequestSchemas.produce>['frameSize']>;

// ---------------------------------------------------------------- events (Socket.IO generics)

type Requests<S extends Record<string, z.ZodType>, R extends { [K in keyof S]: unknown }> = {
  [K in keyof S & keyof R & string]: (payload: z.input<S[K]>, ack: Ack<R[K]>) => void;
};
type Events<S extends Record<string, z.ZodType>> = { [K in keyof S & string]: (payload: z.output<S[K]>) => void };

export type LobbyClientToServer = Requests<typeof lobbyRequestSchemas, LobbyResults>;
export type LobbyServerToClient = Events<typeof lobbyEventSchemas>;
export type ChannelClientToServer = Requests<typeof channelRequestSchemas, ChannelResults>;
export type ChannelServerToClient = Events<typeof channelEventSchemas>;

/** One server→client channel event as a value (what instances relay to each other's viewers). */
export type ChannelBroadcast = z.infer<typeof channelBroadcast>;

/** Resolves a path of the channel's origin (or of the page's own server when `origin` is null). */
export const atOrigin = (origin: string | null, path: string): string => (origin ? new URL(path, origin).href : path);

/** Limit Socket.IO's per-message buffer to what the protocol needs (rtpParameters are a few KB). */
export const MAX_MESSAGE_BYTES = 64 * 1024;
