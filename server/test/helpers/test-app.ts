import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createLogger, type Logger } from '../../src/logger.js';
import { createRtpIngest, type RtpIngest } from './rtp-ingest.js';
import type { Channel } from '../../src/channel/channel.js';
import { eventually } from './processes.js';
import { startRtpSource, stopProcess } from './rtp-source.js';
import type { ChildProcess } from 'node:child_process';

/** A livecast server on a free loopback port with its own hls/ folder (no web app unless WEB_BUILD_DIR is given). */
export async function startTestApp(env: Record<string, string> = {}, { logger }: { logger?: Logger } = {}): Promise<App & { stop(): Promise<void> }> {
  const hlsDir = await mkdtemp(path.join(os.tmpdir(), 'livecast-int-'));
  const app = await startApp(
    loadConfig({ PORT: '0', HLS_DIR: hlsDir, MEDIASOUP_WORKERS: '1', WEB_BUILD_DIR: '/nonexistent', ...env }),
    logger ?? createLogger(env.LOG_LEVEL ?? 'silent'),
  );
  return Object.assign(app, {
    async stop() {
      await app.close();
      await rm(hlsDir, { recursive: true, force: true });
    },
  });
}

/** A channel fed by FFmpeg over RTP, like a broadcaster but without a browser. */
export interface FedChannel {
  channel: Channel;
  ingest: RtpIngest;
  source: ChildProcess;
  stop(): Promise<void>;
}

export async function startFedChannel(app: App, { waitLive = true } = {}): Promise<FedChannel> {
  const { channel } = await app.registry.create();
  const ingest = await createRtpIngest(channel);
  const source = startRtpSource(ingest);
  if (waitLive) await eventually(() => channel.state.phase === 'live', 'the channel to go live', 20_000);
  return {
    channel,
    ingest,
    source,
    async stop() {
      await channel.end('test over');
      await stopProcess(source);
    },
  };
}

export const mediaSequenceOf = (playlist: string) => Number(/#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(playlist)?.[1] ?? -1);
