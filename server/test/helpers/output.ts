import type { DestinationStream } from 'pino';

/** A pino destination that keeps every line, so tests can read what the server logged. */
export function logCapture(): DestinationStream & { records(): Record<string, unknown>[] } {
  const lines: string[] = [];
  return {
    write: (line: string) => void lines.push(line),
    records: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}

const CONSOLE_METHODS = ['log', 'info', 'warn', 'error', 'debug', 'trace'] as const;

/**
 * Records everything this process writes to stdout and stderr, directly or through `console`
 * (test runners replace `console`, so both are watched), until `stop()`.
 */
export function watchProcessOutput(): { written: string[]; stop(): void } {
  const written: string[] = [];
  const restores: (() => void)[] = [];
  for (const stream of [process.stdout, process.stderr]) {
    const original = stream.write;
    const write = original.bind(stream);
    const recording: typeof stream.write = (chunk: string | Uint8Array, encodingOrDone?: BufferEncoding | ((error?: Error | null) => void), done?: (error?: Error | null) => void) => {
      written.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString());
      return typeof encodingOrDone === 'function' ? write(chunk, encodingOrDone) : write(chunk, encodingOrDone, done);
    };
    stream.write = recording;
    restores.push(() => (stream.write = original));
  }
  for (const method of CONSOLE_METHODS) {
    const original = console[method];
    console[method] = (...args: unknown[]) => {
      written.push(args.map(String).join(' '));
      original(...args);
    };
    restores.push(() => (console[method] = original));
  }
  return { written, stop: () => restores.forEach((restore) => restore()) };
}
