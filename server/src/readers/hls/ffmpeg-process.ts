import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Logger } from '../../logger.js';

export interface FfmpegExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** True when stop() asked for it; false means FFmpeg died on its own. */
  requested: boolean;
}

/**
 * Warnings FFmpeg prints for every packet of a healthy RTP → HLS copy: copied RTP video has no
 * packet durations, RTP input starts without timestamps, retransmitted or late packets are
 * dropped, and the reorder buffer reports gaps when the input stops at teardown. Kept at debug so
 * that real problems stand out in the log.
 */
const EXPECTED_NOISE =
  /has duration 0|Timestamps are unset|dropping old packet|max delay reached|RTP: missed \d+ packets|not enough frames to estimate rate/;

/**
 * util-linux's setpriv, to have the kernel kill FFmpeg if this server dies without stopping it
 * (SIGKILL, OOM): an orphaned FFmpeg would hold its UDP ports and CPU forever.
 */
const SETPRIV = process.platform === 'linux' ? ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p)) : undefined;

export function ffmpegCommand(ffmpegPath: string, args: string[]): [string, string[]] {
  return SETPRIV ? [SETPRIV, ['--pdeathsig', 'KILL', '--', ffmpegPath, ...args]] : [ffmpegPath, args];
}

/** One FFmpeg child: stderr into the log, its exit reported once, a stop that always finishes. */
export class FfmpegProcess {
  private readonly child: ChildProcess;
  private stopRequested = false;
  readonly exited: Promise<FfmpegExit>;

  /**
   * `onOutput` receives what FFmpeg writes to its standard output (`pipe:1`); with `input`, its
   * standard input (`pipe:0`) takes what `write` gives it.
   */
  constructor(
    ffmpegPath: string,
    args: string[],
    private readonly logger: Logger,
    onOutput?: (chunk: Buffer) => void,
    /**
     * `input`: feed standard input. `secrets`: never logged (FFmpeg repeats its input URL, an SRT
     * passphrase in it, in errors). `moreOutputs`: what FFmpeg writes to `pipe:3`, `pipe:4` …, in order.
     */
    o: { input?: boolean; secrets?: string[]; moreOutputs?: ((chunk: Buffer) => void)[] } = {},
  ) {
    // setpriv execs FFmpeg in place: the pid, signals and exit status are FFmpeg's (and its pipes).
    const [command, argv] = ffmpegCommand(ffmpegPath, args);
    const more = o.moreOutputs ?? [];
    this.child = spawn(command, argv, { stdio: [o.input ? 'pipe' : 'ignore', onOutput ? 'pipe' : 'ignore', 'pipe', ...more.map(() => 'pipe' as const)] });
    // A write to an FFmpeg that just died fails with EPIPE: its exit is reported by `exited`.
    this.child.stdin?.on('error', () => undefined);
    if (onOutput) this.child.stdout!.on('data', onOutput);
    more.forEach((listener, i) => {
      const pipe = this.child.stdio[3 + i];
      if (pipe && 'on' in pipe) pipe.on('data', listener);
    });
    createInterface({ input: this.child.stderr! }).on('line', (raw) => {
      if (!raw.trim()) return;
      const line = (o.secrets ?? []).reduce((text, secret) => (secret ? text.replaceAll(secret, '[secret]') : text), raw);
      if (EXPECTED_NOISE.test(line)) this.logger.debug({ ffmpeg: line }, 'ffmpeg');
      else this.logger.warn({ ffmpeg: line }, 'ffmpeg');
    });
    this.exited = new Promise((resolve) => {
      this.child.once('error', (error) => {
        this.logger.error({ err: error }, 'could not run ffmpeg');
        resolve({ code: null, signal: null, requested: this.stopRequested });
      });
      this.child.once('exit', (code, signal) => resolve({ code, signal, requested: this.stopRequested }));
    });
    this.logger.info({ ffmpegPid: this.child.pid }, 'ffmpeg started');
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Feeds FFmpeg's standard input (see the constructor); ignored once it has exited. */
  write(chunk: Buffer): void {
    if (this.running && this.child.stdin?.writable) this.child.stdin.write(chunk);
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null && this.child.pid !== undefined;
  }

  /** Kills a hung FFmpeg (SIGKILL works on a stopped process too); reported as an unrequested exit. */
  kill(): void {
    if (this.running) this.child.kill('SIGKILL');
  }

  /**
   * SIGINT lets FFmpeg finish the segment and playlist; with no RTP arriving it may ignore SIGINT,
   * so SIGKILL follows after a grace period.
   */
  async stop(graceMs = 1500): Promise<FfmpegExit> {
    this.stopRequested = true;
    if (this.running) {
      this.child.kill('SIGINT');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
      await this.exited;
      clearTimeout(timer);
    }
    return this.exited;
  }
}
