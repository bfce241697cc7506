/**
 * The server under soak (bench/soak.ts), as its own process so that its RSS and file descriptors
 * are the server's alone: the app with the web pages (startBenchServer, the benchmarks' shared
 * starter) plus one channel fed over RTP.
 *
 * Why an entry script and not `npm start` with a browser broadcasting: RTP ingest
 * (createRtpIngest) creates PlainTransports on the channel's router and so has to run inside the
 * server's process, and a headless Chromium encoding a fake camera for 30 minutes would take most
 * of one of the machine's two cores from the server being measured. The FFmpeg that sends the RTP
 * is started by the parent (it is the broadcaster, not part of the server).
 *
 * Protocol with the parent: one IPC message `{ type: 'ready', … }` once listening; SIGTERM stops
 * the app (channels, FFmpeg, hls/ folder) and exits 0.
 */
import { startBenchServer } from './lib.js';
import { createRtpIngest } from '../server/test/helpers/rtp-ingest.js';

export interface SoakServerReady {
  type: 'ready';
  url: string;
  channelId: string;
  hlsDir: string;
  segmentSeconds: number;
  video: { rtpPort: number; rtcpPort: number };
  audio: { rtpPort: number; rtcpPort: number };
}

if (!process.send) throw new Error('bench/soak-server.ts is started by bench/soak.ts (it needs an IPC channel)');

// The same process policy as server/src/main.ts, so that the soak sees what production would:
// an unhandled rejection is logged (one JSON line) and the server keeps running; an uncaught
// exception stops it (the parent then reports the server as dead).
const log = (level: string, msg: string, err: unknown) =>
  console.log(JSON.stringify({ level, time: Date.now(), msg, err: err instanceof Error ? { message: err.message, stack: err.stack } : String(err) }));
process.on('unhandledRejection', (reason) => log('error', 'unhandled promise rejection; the server keeps running', reason));
process.on('uncaughtException', (error) => {
  log('fatal', 'uncaught exception', error);
  process.exit(1);
});

// LOG_LEVEL from the parent: startBenchServer would otherwise set 'error', and the limits warn.
const server = await startBenchServer({ LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn' }, { web: true });
const { channel } = await server.app.registry.create();
const ingest = await createRtpIngest(channel);

let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  ingest.close();
  server.stop().then(
    () => process.exit(0),
    (error: unknown) => {
      log('error', 'stop failed', error);
      process.exit(1);
    },
  );
};
process.on('SIGTERM', stop);
// The parent died without stopping us: clean up rather than stream on with nobody measuring.
process.on('disconnect', stop);

const ready: SoakServerReady = {
  type: 'ready',
  url: server.app.url,
  channelId: channel.id,
  hlsDir: server.app.config.hls.dir,
  segmentSeconds: server.app.config.hls.segmentSeconds,
  video: ingest.video,
  audio: ingest.audio,
};
process.send(ready);
