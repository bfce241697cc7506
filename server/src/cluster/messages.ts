/**
 * Messages between instances (Socket.IO serverSideEmit through the Redis adapter), declared once
 * with zod. They come from other instances, possibly of another version, so every handler
 * validates them: a throw inside the adapter's message handler would escape into the process.
 */
import { z } from 'zod';
import type { types } from 'mediasoup';
import { audience, channelBroadcast, mediaKind } from '../../../protocol/schemas.js';

const instanceOfChannel = z.object({ channelId: z.string(), instanceId: z.string() });
const endpoint = z.object({ ip: z.string(), port: z.number().int().min(1).max(65535) });

export const clusterMessages = {
  /** A non-owning instance tells the owner how many viewers of a channel it holds. */
  audience: instanceOfChannel.extend(audience.shape),
  /** A non-owning instance asks the owner to pipe a channel's tracks to it (real-time viewers there). */
  pipeOpen: instanceOfChannel.extend({ endpoint }),
  /**
   * A viewer there needs a key frame. Asked of the owner rather than sent as RTCP through the
   * pipe, so that the owner times it like its own requests (the broadcaster's encoder ignores
   * requests that come too soon after the previous one, and mediasoup then waits a second).
   */
  keyFrame: instanceOfChannel,
  /** That instance no longer needs the pipe. */
  pipeClose: instanceOfChannel,
  /** The owner hands a channel event to the viewers connected through other instances. */
  channelEvent: z.object({ channelId: z.string(), message: channelBroadcast }),
} as const;

export type ClusterMessage<K extends keyof typeof clusterMessages> = z.infer<(typeof clusterMessages)[K]>;
export type PipeEndpoint = z.infer<typeof endpoint>;

/** One of the owner's tracks as the other side must produce it (same id as the original). */
export const pipedProducer = z.object({
  id: z.string(),
  kind: mediaKind,
  rtpParameters: z.custom<types.RtpParameters>((v) => typeof v === 'object' && v !== null),
  paused: z.boolean(),
});
export const pipeOffer = endpoint.extend({ producers: z.array(pipedProducer) });
export type PipedProducer = z.infer<typeof pipedProducer>;
export type PipeOffer = z.infer<typeof pipeOffer>;

/** The owner answers with an offer; the others (and an owner that cannot) with null or an error. */
export const pipeAnswer = z.union([pipeOffer, z.object({ error: z.string() }), z.null()]);
export type PipeAnswer = z.infer<typeof pipeAnswer>;

/** Socket.IO's server-to-server event map, derived from the declarations above. */
export interface ClusterEvents {
  audience: (report: ClusterMessage<'audience'>) => void;
  pipeOpen: (request: ClusterMessage<'pipeOpen'>, answer: (offer: PipeAnswer) => void) => void;
  keyFrame: (request: ClusterMessage<'keyFrame'>) => void;
  pipeClose: (request: ClusterMessage<'pipeClose'>) => void;
  channelEvent: (event: ClusterMessage<'channelEvent'>) => void;
  /** A directory record was written or removed. */
  directoryChanged: () => void;
}
