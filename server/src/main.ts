import { startApp, type App } from './app.js';
import { loadConfig } from './config.js';
import { createLogger, wantsPretty } from './logger.js';

const config = loadConfig();
const logger = createLogger(config.log.level, undefined, { pretty: wantsPretty(config.log.format, process.stdout.isTTY === true) });

let app: App | null = null;
let stopping = false;
const shutdown = (why: string, exitCode: number) => {
  if (stopping) return;
  stopping = true;
  logger.info({ why }, 'shutting down');
  const force = setTimeout(() => process.exit(exitCode || 1), 10_000);
  force.unref();
  (app ? app.close() : Promise.resolve()).then(
    () => process.exit(exitCode),
    (error: unknown) => {
      logger.error({ err: error }, 'shutdown failed');
      process.exit(1);
    },
  );
};

// Process-level policy (README, "Faults"). A rejected promise nobody handled has already unwound:
// it is a bug in one code path (usually one channel's), logged with its stack, and the server keeps
// serving everyone else. An exception thrown out of an event handler leaves state half-changed at an
// unknown point: the server stops cleanly (children, HLS folders) and exits 1 for its supervisor
// (systemd Restart=on-failure, a container restart policy) to start it again.
process.on('unhandledRejection', (reason) => {
  logger.error({ err: reason }, 'unhandled promise rejection; the server keeps running');
});
process.on('uncaughtException', (error, origin) => {
  logger.fatal({ err: error, origin }, 'uncaught exception; stopping cleanly so that the supervisor restarts the server');
  shutdown('uncaught exception', 1);
});
process.on('SIGINT', () => shutdown('SIGINT', 0));
process.on('SIGTERM', () => shutdown('SIGTERM', 0));

try {
  app = await startApp(config, logger);
} catch (error) {
  logger.fatal({ err: error }, 'livecast could not start');
  process.exit(1);
}
