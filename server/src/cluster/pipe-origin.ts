import type { types } from 'mediasoup';
import { oneAtATime } from '../media/one-at-a-time.js';
import type { ChannelMedia, ChannelReader } from '../channel/reader.js';
import type { Config } from '../config.js';
import type { PipeEndpoint, PipeOffer } from './messages.js';

/**
 * Router-to-router RTP between instances (mediasoup PipeTransports over UDP): how a channel's
 * tracks reach another instance that serves real-time viewers of it.
 */
export function createPipe(router: types.Router, rtc: Config['rtc'], appData: Record<string, unknown>): Promise<types.PipeTransport> {
  const { listenIp, announcedAddress, minPort, maxPort } = rtc;
  return router.createPipeTransport({
    listenInfo: { protocol: 'udp', ip: listenIp, announcedAddress, portRange: { min: minPort, max: maxPort } },
    appData,
  });
}

/** Where the other instance must send to reach this pipe. */
export function endpointOf(pipe: types.PipeTransport): PipeEndpoint {
  return { ip: pipe.tuple.localAddress, port: pipe.tuple.localPort };
}

/**
 * The owner's side, a reader of the channel (attached by the cluster, only in a cluster): one
 * pipe per instance that asked, consuming every track once. Asking again (a new real-time viewer
 * there) adds the tracks that appeared since.
 */
export class PipeOrigin implements ChannelReader {
  private readonly pipes = new Map<string, { transport: types.PipeTransport; remote: string; consumers: Map<string, types.Consumer> }>();

  constructor(
    private readonly media: ChannelMedia,
    private readonly rtc: Config['rtc'],
  ) {}

  get count(): number {
    return this.pipes.size;
  }

  /** Offers are made one at a time, so that concurrent requests never build two pipes. */
  readonly offer = oneAtATime((instanceId: string, remote: PipeEndpoint) => this.offerNow(instanceId, remote));

  private async offerNow(instanceId: string, remote: PipeEndpoint): Promise<PipeOffer> {
    // An encoder's channel transcodes for real-time viewers on demand: a relay's viewers are such
    // viewers. (The transcode then runs while the channel lives: the owner does not see them leave.)
    await this.media.ensureTracks().catch(() => undefined);
    const producers = this.media.tracks();
    const key = `${remote.ip}:${remote.port}`;
    let pipe = this.pipes.get(instanceId);
    if (pipe && pipe.remote !== key) {
      // The other instance re-created its side (its edge closed and opened again).
      pipe.transport.close();
      pipe = undefined;
    }
    let connect: (() => Promise<void>) | null = null;
    if (!pipe) {
      const transport = await createPipe(this.media.router, this.rtc, { pipeTo: instanceId });
      pipe = { transport, remote: key, consumers: new Map() };
      const created = pipe;
      this.pipes.set(instanceId, created);
      transport.observer.once('close', () => this.pipes.get(instanceId) === created && this.pipes.delete(instanceId));
      connect = () => transport.connect(remote);
    }
    for (const producer of producers) {
      if (producer.closed || pipe.consumers.has(producer.id)) continue;
      const consumer = await pipe.transport.consume({ producerId: producer.id });
      pipe.consumers.set(producer.id, consumer);
      consumer.observer.once('close', () => pipe.consumers.delete(producer.id));
    }
    if (connect) {
      // A video pipe consumer forwards nothing until a key frame and asks for one as soon as its
      // transport connects; connecting when the broadcaster's encoder will honour that request
      // saves up to a second (an ignored request makes mediasoup wait that long to ask again).
      const transport = pipe.transport;
      void this.media.keyFrameWindow()
        .then(() => (transport.closed ? undefined : connect()))
        .catch(() => transport.close());
    }
    return {
      ...endpointOf(pipe.transport),
      producers: [...pipe.consumers.values()].map((c) => ({
        id: c.producerId,
        kind: c.kind,
        rtpParameters: c.rtpParameters,
        paused: c.producerPaused,
      })),
    };
  }

  /** The instances this channel is piped to. */
  instances(): string[] {
    return [...this.pipes.keys()];
  }

  /** A viewer on that instance needs a key frame: asked through the video consumer of its pipe, timed by the channel. */
  requestKeyFrame(instanceId: string): void {
    const via = [...(this.pipes.get(instanceId)?.consumers.values() ?? [])].find((c) => c.kind === 'video' && !c.closed);
    if (via) this.media.requestKeyFrame(via);
  }

  closePipe(instanceId: string): void {
    this.pipes.get(instanceId)?.transport.close();
  }

  close(): void {
    for (const pipe of [...this.pipes.values()]) pipe.transport.close();
  }
}
