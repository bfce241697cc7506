import type { App } from '../../src/app.js';
import { startServer, type StartServerOptions, type TestServer } from './server.js';
import { createRtpIngest, type RtpIngest } from './rtp-ingest.js';
import type { Channel } from '../../src/channel/channel.js';
import { eventually } from './processes.js';
import { startRtpSource, stopProcess } from './rtp-source.js';
import type { ChildProcess } from 'node:child_process';

/** An integration-test server: one mediasoup worker, no web app unless WEB_BUILD_DIR is given. */
export function startTestApp(env: Record<string, string> = {}, { logger, tls }: Pick<StartServerOptions, 'logger' | 'tls'> = {}): Promise<TestServer> {
  return startServer({ MEDIASOUP_WORKERS: '1', ...env }, { logger, tls });
}

/** A channel fed by FFmpeg over RTP, like a broadcaster but without a browser. */
export interface FedChannel {
  channel: Channel;
  /** The channel's secret (what the go-live page holds). */
  publishToken: string;
  ingest: RtpIngest;
  source: ChildProcess;
  stop(): Promise<void>;
}

/** `fromPorts`: the sender's own RTP ports (see startRtpSource); dozens of senders on ephemeral ones sometimes fail to bind RTCP next to RTP. */
export async function startFedChannel(app: App, { waitLive = true, fromPorts }: { waitLive?: boolean; fromPorts?: { video: number; audio: number } } = {}): Promise<FedChannel> {
  const { channel, publishToken } = await app.registry.create();
  const ingest = await createRtpIngest(channel);
  const source = startRtpSource(ingest, undefined, undefined, fromPorts ? { fromPorts } : {});
  if (waitLive) {
    try {
      await eventually(() => channel.state.phase === 'live', 'the channel to go live', 20_000);
    } catch (error) {
      await channel.end('did not go live');
      await stopProcess(source);
      throw error;
    }
  }
  return {
    channel,
    publishToken,
    ingest,
    source,
    async stop() {
      await channel.end('test over');
      await stopProcess(source);
    },
  };
}

export const mediaSequenceOf = (playlist: string) => Number(/#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(playlist)?.[1] ?? -1);
