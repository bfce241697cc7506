import type { Audience, ChannelBroadcast } from '../../../protocol/index.js';
import { ChannelError } from '../channel/channel-error.js';
import type { Logger } from '../logger.js';
import type { SignallingNamespace } from '../signalling/socket-types.js';
import { clusterMessages, pipeAnswer, type ClusterMessage, type PipeAnswer, type PipeEndpoint, type PipeOffer } from './messages.js';

type Handler<K extends keyof typeof clusterMessages> = (message: ClusterMessage<K>) => void;

/**
 * Messages between instances, over Socket.IO's server-side events on the lobby namespace (which
 * exists on every instance; the Redis adapter carries them). Outgoing messages are typed; incoming
 * ones are validated before any handler sees them (they come from other instances, possibly of
 * another version, and a throw here would escape into the adapter).
 */
export class ClusterBus {
  constructor(
    private readonly lobby: SignallingNamespace,
    readonly instanceId: string,
    private readonly logger: Logger,
  ) {}

  onAudience(handler: Handler<'audience'>): void {
    this.lobby.on('audience', this.checked('audience', handler));
  }

  onChannelEvent(handler: Handler<'channelEvent'>): void {
    this.lobby.on('channelEvent', this.checked('channelEvent', handler));
  }

  onKeyFrame(handler: Handler<'keyFrame'>): void {
    this.lobby.on('keyFrame', this.checked('keyFrame', handler));
  }

  onPipeClose(handler: Handler<'pipeClose'>): void {
    this.lobby.on('pipeClose', this.checked('pipeClose', handler));
  }

  /** Socket.IO types the listener with the declared message; what arrives is whatever was sent. */
  private checked<K extends keyof typeof clusterMessages>(event: K, handler: Handler<K>): (message: unknown) => void {
    const schema = clusterMessages[event];
    return (message) => {
      const parsed = schema.safeParse(message);
      if (parsed.success) handler(parsed.data as ClusterMessage<K>);
      else this.ignored(event, message);
    };
  }

  onPipeOpen(handler: (request: ClusterMessage<'pipeOpen'>) => Promise<PipeAnswer>): void {
    this.lobby.on('pipeOpen', (request, answer) => {
      if (typeof answer !== 'function') return this.ignored('pipeOpen', request);
      const parsed = clusterMessages.pipeOpen.safeParse(request);
      if (!parsed.success) return answer({ error: 'malformed pipe request' });
      handler(parsed.data).then(answer, (error: unknown) => answer({ error: error instanceof Error ? error.message : String(error) }));
    });
  }

  onDirectoryChanged(handler: () => void): void {
    this.lobby.on('directoryChanged', handler);
  }

  /** Sent by this instance for a channel another carries: how many of its viewers are here. */
  report(channelId: string, audience: Audience): void {
    this.lobby.serverSideEmit('audience', { channelId, instanceId: this.instanceId, ...audience });
  }

  /** The owner hands a channel event to the viewers connected through other instances. */
  relay(channelId: string, message: ChannelBroadcast): void {
    this.lobby.serverSideEmit('channelEvent', { channelId, message });
  }

  directoryChanged(): void {
    this.lobby.serverSideEmit('directoryChanged');
  }

  keyFrame(channelId: string): void {
    this.lobby.serverSideEmit('keyFrame', { channelId, instanceId: this.instanceId });
  }

  closePipe(channelId: string): void {
    this.lobby.serverSideEmit('pipeClose', { channelId, instanceId: this.instanceId });
  }

  /** Asks the instance that carries a channel to pipe its tracks to `endpoint` on this one. */
  async requestPipe(channelId: string, endpoint: PipeEndpoint): Promise<PipeOffer> {
    let answers: unknown[];
    try {
      // The Redis adapter gives up on instances that do not answer within its requestsTimeout.
      answers = await this.lobby.serverSideEmitWithAck('pipeOpen', { channelId, instanceId: this.instanceId, endpoint });
    } catch (error) {
      throw new ChannelError('internal', `the channel’s server did not answer in time (${error instanceof Error ? error.message : String(error)})`);
    }
    const valid = answers.map((a) => pipeAnswer.safeParse(a)).flatMap((r) => (r.success && r.data ? [r.data] : []));
    const offer = valid.find((a): a is PipeOffer => 'producers' in a);
    if (offer) return offer;
    const failure = valid.find((a): a is { error: string } => 'error' in a);
    throw new ChannelError(failure ? 'internal' : 'not-found', failure?.error ?? 'no server carries this channel any more');
  }

  private ignored(event: string, payload: unknown): void {
    this.logger.warn({ event, payload: String(JSON.stringify(payload)).slice(0, 200) }, 'ignored a malformed message from another instance');
  }
}
