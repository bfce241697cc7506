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
  const config = loadConfig({
    ...(o.inheritEnv ? process.env : {}),
    HOST: '127.0.0.1',
    PORT: '0',
    HLS_DIR: hlsDir,
    LOG_LEVEL: 'silent',
    ...(o.web ? {} : { WEB_BUILD_DIR: path.join(hlsDir, 'no-web-app') }),
    ...o.tls?.env,
    ...env,
  });
  if (o.web && !existsSync(path.join(config.http.webBuildDir, 'handler.js'))) throw new Error('the web app is not built: run npm run build first');
  const app = await startApp(config, o.logger ?? createLogger(config.log.level));
  return Object.assign(app, {
    hlsDir,
    async stop() {
      await app.close();
      await rm(hlsDir, { recursive: true, force: true });
    },
  });
}
