import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createLogger, type Logger } from '../../src/logger.js';
import type { TestCertificate } from './tls.js';

export type TestServer = App & {
  /** This server's own hls/ folder (removed by stop). */
  hlsDir: string;
  /** Its recordings folder: a temporary one of its own (removed by stop) unless RECORDINGS_DIR was given. */
  recordingsDir: string;
  stop(): Promise<void>;
};

export interface StartServerOptions {
  /** Serve the built SvelteKit app (e2e, page benchmarks); otherwise HLS, Socket.IO and HTTP only. */
  web?: boolean;
  /** Take the rest of the settings from this process's environment (e2e, benchmarks). */
  inheritEnv?: boolean;
  logger?: Logger;
  /** Serve HTTPS with this certificate (sets TLS_CERT / TLS_KEY); `url` is then https://. */
  tls?: Pick<TestCertificate, 'env'>;
}

/**
 * The one way tests, end-to-end tests and benchmarks start a livecast server: in this process
 * (so they can look at its channels, processes and files), on a free port of 127.0.0.1, with an
 * hls/ folder of its own that `stop` removes with everything else.
 */
export async function startServer(env: Record<string, string> = {}, o: StartServerOptions = {}): Promise<TestServer> {
  const hlsDir = await mkdtemp(path.join(os.tmpdir(), 'livecast-test-hls-'));
  // Recordings are on by default: a test never writes into the repository's recordings/ (a test
  // that restarts a server over the same recordings passes its own RECORDINGS_DIR, and removes it).
  const ownRecordings = env.RECORDINGS_DIR === undefined;
  const recordingsDir = env.RECORDINGS_DIR ?? (await mkdtemp(path.join(os.tmpdir(), 'livecast-test-recordings-')));
  const config = loadConfig({
    ...(o.inheritEnv ? process.env : {}),
    HOST: '127.0.0.1',
    PORT: '0',
    HLS_DIR: hlsDir,
    RECORDINGS_DIR: recordingsDir,
    LOG_LEVEL: 'silent',
    // Off unless a test asks (with a free port): servers run side by side and 1935 is one port.
    RTMP_PORT: '0',
    SRT_MIN_PORT: '0',
    ...(o.web ? {} : { WEB_BUILD_DIR: path.join(hlsDir, 'no-web-app') }),
    ...o.tls?.env,
    ...env,
  });
  if (o.web && !existsSync(path.join(config.http.webBuildDir, 'handler.js'))) throw new Error('the web app is not built: run npm run build first');
  const app = await startApp(config, o.logger ?? createLogger(config.log.level)).catch(async (error: unknown) => {
    if (ownRecordings) await rm(recordingsDir, { recursive: true, force: true });
    throw error;
  });
  return Object.assign(app, {
    hlsDir,
    recordingsDir,
    async stop() {
      await app.close();
      await rm(hlsDir, { recursive: true, force: true });
      if (ownRecordings) await rm(recordingsDir, { recursive: true, force: true });
    },
  });
}
