import type { types } from 'mediasoup';
import { oneAtATime } from '../media/one-at-a-time.js';
import type { WebRtcListenSettings } from '../media/webrtc-transport.js';

import type { PipeEndpoint, PipeOffer } from './messages.js';

export type { PipeEndpoint, PipeOffer };

/**
 * Router-to-router RTP between instances (mediasoup PipeTransports over UDP): how a channel's
 * tracks reach another instance that serves real-time viewers of it.
 */
export function createPipe(router: types.Router, settings: WebRtcListenSettings, appData: Record<string, unknown>): Promise<types.PipeTransport> {
  const { listenIp, announcedAddress, rtcMinPort, rtcMaxPort } = settings;
  return router.createPipeTransport({
    listenInfo: { protocol: 'udp', ip: listenIp, announcedAddress, portRange: { min: rtcMinPort, max: rtcMaxPort } },
    appData,
  });
}

/** Where the other instance must send to reach this pipe. */
export function endpointOf(pipe: types.PipeTransport): PipeEndpoint {
  return { ip: pipe.tuple.localAddress, port: pipe.tuple.localPort };
}

/**
 * The owner's side: one pipe per instance that asked, consuming every track once. Asking again
 * (a new real-time viewer there) adds the tracks that appeared since.
 */
export class PipeOrigin {
  private readonly pipes = new Map<string, { transport: types.PipeTransport; remote: string; consumers: Map<string, types.Consumer> }>();

  constructor(
    private readonly router: types.Router,
    private readonly settings: WebRtcListenSettings,
    /** Resolves when the broadcaster's encoder would honour a key-frame request (see Channel). */
    private readonly keyFrameWindow: () => Promise<void> = () => Promise.resolve(),
  ) {}

  get count(): number {
    return this.pipes.size;
  }

  /** Offers are made one at a time, so that concurrent requests never build two pipes. */
  readonly offer = oneAtATime((instanceId: string, remote: PipeEndpoint, producers: types.Producer[]) =>
    this.offerNow(instanceId, remote, producers),
  );

  private async offerNow(instanceId: string, remote: PipeEndpoint, producers: types.Producer[]): Promise<PipeOffer> {
    const key = `${remote.ip}:${remote.port}`;
    let pipe = this.pipes.get(instanceId);
    if (pipe && pipe.remote !== key) {
      // The other instance re-created its side (its edge closed and opened again).
      pipe.transport.close();
      pipe = undefined;
    }
    let connect: (() => Promise<void>) | null = null;
    if (!pipe) {
      const transport = await createPipe(this.router, this.settings, { pipeTo: instanceId });
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
      void this.keyFrameWindow()
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

  /** The consumer carrying the video to that instance (key-frame requests go through it). */
  videoConsumer(instanceId: string): types.Consumer | undefined {
    return [...(this.pipes.get(instanceId)?.consumers.values() ?? [])].find((c) => c.kind === 'video' && !c.closed);
  }

  close(instanceId: string): void {
    this.pipes.get(instanceId)?.transport.close();
  }
}
