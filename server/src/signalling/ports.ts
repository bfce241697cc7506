/**
 * What signalling needs of the rest of the server, declared here by its user. Signalling never
 * touches routers, producers or consumers: it talks to a channel through a ChannelPort, finds one
 * through a ChannelLocator, and tells the outside world about presence through a PresenceSink.
 * A channel of this instance and a channel another instance carries (cluster) are served through
 * the same port, by the same handlers.
 */
import type { types } from 'mediasoup';
import type {
  Audience,
  ChannelBroadcast,
  ChannelState,
  Consumption,
  DirectoryEntry,
  FrameSize,
  ProducerTransportOptions,
  QualityChoice,
  TransportOptions,
} from '../../../protocol/index.js';
import type { Logger } from '../logger.js';
import type { SignallingSocket } from './socket-types.js';

/** The broadcaster's side of a channel. A channel of another instance refuses all of it. */
export interface PublishPort {
  /** Checks the publish token; returns the id of a stale connection of the same page to close. */
  claim(socketId: string, publishToken: string, session?: string): string | null;
  /** The broadcaster's connection closed (on purpose, or lost: then it may come back). */
  left(socketId: string, connectionLost: boolean): void;
  isBroadcaster(socketId: string): boolean;
  createTransport(): Promise<ProducerTransportOptions>;
  connect(dtlsParameters: types.DtlsParameters): Promise<void>;
  produce(kind: 'audio' | 'video', rtpParameters: types.RtpParameters, frameSize?: FrameSize): Promise<string>;
  stop(): Promise<void>;
}

/**
 * What the channel's owner (whoever holds the publish token, e.g. the go-live page's encoder panel)
 * may do besides publishing. A channel of another instance refuses it: its secrets live on its origin.
 */
export interface OwnerPort {
  /** Checks the token; the channel is not dropped as idle while `socketId` stays connected. */
  hold(socketId: string, publishToken: string): void;
  /** That connection closed (unknown ids are ignored). */
  release(socketId: string): void;
  /** Checks the token; returns the channel's new stream key (the old one stops working at once). */
  rotateStreamKey(publishToken: string): Promise<string>;
  /** Checks the token; names the stream. */
  setDetails(publishToken: string, details: { title: string; description: string }): Promise<{ title: string; description: string }>;
}

/** Real-time (WebRTC) viewing of a channel, one session per viewer socket. */
export interface RealtimePort {
  rtpCapabilities(): Promise<types.RtpCapabilities>;
  /** Fails while the source has no tracks; `onClosed` is called once the session ends, however. */
  createTransport(viewerId: string, onClosed: () => void): Promise<TransportOptions>;
  connect(viewerId: string, dtlsParameters: types.DtlsParameters): Promise<void>;
  consume(viewerId: string, rtpCapabilities: types.RtpCapabilities): Promise<Consumption>;
  resume(viewerId: string, consumerId: string): Promise<void>;
  /** Pins the viewer's video to a simulcast layer, or back to automatic. */
  setQuality(viewerId: string, choice: QualityChoice): Promise<QualityChoice>;
  leave(viewerId: string): void;
}

export interface ChannelPort {
  readonly id: string;
  readonly logger: Logger;
  /** A socket joined the channel's namespace: it is counted (viewers) and told the state and count. */
  join(socket: SignallingSocket): void;
  leave(socket: SignallingSocket): void;
  readonly publish: PublishPort;
  readonly owner: OwnerPort;
  readonly realtime: RealtimePort;
}

/** Finds the channel a namespace is for: null when there is none (or it ended); throws when it cannot tell. */
export interface ChannelLocator {
  find(channelId: string): Promise<ChannelPort | null>;
}

/**
 * Where the presence of this instance's channels goes beyond this instance: viewers of them on
 * other instances, their events relayed to those viewers, and the shared directory. Alone, a
 * server uses `noPresenceElsewhere`.
 */
export interface PresenceSink {
  /** Viewers of one of this instance's channels connected through other instances. */
  viewersElsewhere(channelId: string): Audience;
  /** Called when those counts change. */
  onViewersElsewhere(listener: (channelId: string) => void): void;
  /** Delivers a channel event to its viewers on other instances. */
  relay(channelId: string, message: ChannelBroadcast): void;
  /** A channel of this instance changed (state or audience), or ended (null). */
  changed(channelId: string, snapshot: { state: ChannelState; audience: Audience; liveSince: number } | null): void;
}

export const noPresenceElsewhere: PresenceSink = {
  viewersElsewhere: () => ({ viewers: 0, realtime: 0 }),
  onViewersElsewhere: () => undefined,
  relay: () => undefined,
  changed: () => undefined,
};

/** How the lobby creates channels (the channel registry); the secrets go to the creating page only. */
export interface ChannelFactory {
  /** `unlistedRecording`: created with the server's publish key (its recording is not listed unless its broadcaster says so). */
  create(options?: { unlistedRecording?: boolean }): Promise<{
    channel: {
      readonly id: string;
      /** Where encoders publish over RTMP (server-wide port) and SRT (the channel's port); null when off. */
      readonly ingestPorts: { rtmp: number | null; rtmps: number | null; srt: number | null };
      once(event: 'ended', listener: () => void): unknown;
    };
    publishToken: string;
    streamKey: string;
  }>;
}

/** The live channels the lobby lists (this instance's, or the whole cluster's). */
export interface DirectorySource {
  live(): Promise<DirectoryEntry[]>;
  /** Called when the list may have changed for reasons this instance's channels do not show. */
  onChange(listener: () => void): void;
}
