import { pino, type DestinationStream, type Logger } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };

export type LogFormat = 'auto' | 'json' | 'pretty';

/**
 * JSON lines for machines (a log collector, a pipe, a file), one readable line per event for a
 * person at a terminal: `auto` picks by whether the output is a terminal.
 */
export function wantsPretty(format: LogFormat, isTerminal: boolean): boolean {
  return format === 'pretty' || (format === 'auto' && isTerminal);
}

/**
 * The server's logger: JSON lines on stdout, or readable lines when `pretty`; tests pass a
 * destination to read what was logged.
 */
export function createLogger(level: string, destination?: DestinationStream, o: { pretty?: boolean } = {}): Logger {
  const options = { level, base: { pid: process.pid } };
  if (o.pretty) {
    // Synchronous, in-process (no worker thread): the order of lines is the order of events.
    return pino(options, pretty({ destination: destination ?? 1, sync: true, colorize: !destination && process.stdout.isTTY === true, translateTime: 'SYS:HH:MM:ss', ignore: 'pid,hostname', singleLine: true }));
  }
  return destination ? pino(options, destination) : pino(options);
}
