import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startApp, type App } from '../server/src/app.js';
import { loadConfig, type Config } from '../server/src/config.js';
import { createLogger } from '../server/src/logger.js';

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

export const median = (values: number[]) => percentile(values, 50);

/** Starts a livecast server on a free port with its own hls/ folder; `stop` removes it all. */
export async function startBenchServer(
  overrides: Record<string, string> = {},
  { web = false }: { web?: boolean } = {},
): Promise<{ app: App; stop(): Promise<void> }> {
  const hlsDir = await mkdtemp(path.join(os.tmpdir(), 'livecast-bench-hls-'));
  const env: NodeJS.ProcessEnv = { ...process.env, HOST: '127.0.0.1', PORT: '0', HLS_DIR: hlsDir, LOG_LEVEL: 'error', ...overrides };
  if (!web) env.WEB_BUILD_DIR = path.join(hlsDir, 'no-web-app');
  const config: Config = loadConfig(env);
  if (web && !existsSync(path.join(config.http.webBuildDir, 'handler.js'))) throw new Error('the web app is not built: run npm run build first');
  const app = await startApp(config, createLogger(config.log.level));
  return {
    app,
    async stop() {
      await app.close();
      await rm(hlsDir, { recursive: true, force: true });
    },
  };
}

/** Prints a header with what the numbers depend on, then a table. */
export function printTable(title: string, rows: Record<string, string | number>[]): void {
  console.log(`\n## ${title}`);
  console.log(`machine: ${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'unknown'}), ${Math.round(os.totalmem() / 2 ** 30)} GiB; ${new Date().toISOString()}`);
  if (rows.length === 0) return;
  const columns = Object.keys(rows[0]!);
  const cell = (v: string | number | undefined) => (typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(2)) : (v ?? ''));
  console.log(`| ${columns.join(' | ')} |`);
  console.log(`|${columns.map(() => '---').join('|')}|`);
  for (const row of rows) console.log(`| ${columns.map((c) => cell(row[c])).join(' | ')} |`);
}
