import { execFileSync } from 'node:child_process';
import { existsSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startInstance, type Instance } from '../server/test/helpers/instance.js';
import { BENCH_SETTINGS } from './lib.js';

/**
 * An earlier livecast, from this repository's history, run beside today's in the same benchmark
 * run: a detached worktree of `ref` (made once, kept in the temp folder), sharing today's
 * node_modules (its dependencies are a subset), its web app built there, its server started as a
 * process of its own. A baseline measured in the same run, on the same machine, under the same load.
 */
/** Benchmarks go live many times in a row from one address: the per-address limits would refuse them. */
export const MANY_CHANNELS = { MAX_CHANNELS_PER_ADDRESS: '100', CHANNEL_CREATE_PER_MINUTE: '1000' };

export async function startBaselineServer(ref: string, env: Record<string, string> = {}): Promise<Instance & { commit: string }> {
  const commit = execFileSync('git', ['rev-parse', '--verify', `${ref}^{commit}`], { encoding: 'utf8' }).trim();
  const dir = path.join(os.tmpdir(), `livecast-baseline-${commit.slice(0, 12)}`);
  if (!existsSync(path.join(dir, '.git'))) {
    execFileSync('git', ['worktree', 'prune']);
    execFileSync('git', ['worktree', 'add', '--detach', '--force', dir, commit], { stdio: 'ignore' });
  }
  if (!existsSync(path.join(dir, 'node_modules'))) symlinkSync(path.resolve('node_modules'), path.join(dir, 'node_modules'));
  if (!existsSync(path.join(dir, 'web/build/handler.js'))) {
    console.error(`building the baseline's web app (${commit.slice(0, 12)}) …`);
    execFileSync('npx', ['vite', 'build'], { cwd: path.join(dir, 'web'), stdio: 'ignore' });
  }
  // Port ranges apart from today's server (which uses the defaults) so the two never collide.
  const instance = await startInstance(
    // The same settings as today's server: a baseline that defaulted to simulcast was once
    // measured against today's code with one layer (the comparisons of 2026-12-03 before this).
    { ...BENCH_SETTINGS, RTC_MIN_PORT: '45000', RTC_MAX_PORT: '49999', HLS_RTP_MIN_PORT: '30000', HLS_RTP_MAX_PORT: '34999', ...MANY_CHANNELS, ...env },
    { cwd: dir },
  );
  return Object.assign(instance, { commit });
}
