import os from 'node:os';
import type { App } from '../server/src/app.js';
import { startServer } from '../server/test/helpers/server.js';

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

export const median = (values: number[]) => percentile(values, 50);

/** What every benchmarked server runs with, today's and a baseline commit's alike (bench/baseline-checkout.ts). */
export const BENCH_SETTINGS = { LOG_LEVEL: 'error', SIMULCAST: 'off' };

/**
 * Starts a livecast server (the tests' shared helper) with benchmark logging; `stop` removes it all.
 * Broadcasters send one layer unless a benchmark asks for simulcast (bench/simulcast.ts): the
 * published figures of the others were measured with one, and three encodes in the same browser
 * would weigh on what they measure.
 */
export async function startBenchServer(
  overrides: Record<string, string> = {},
  { web = false }: { web?: boolean } = {},
): Promise<{ app: App; stop(): Promise<void> }> {
  const app = await startServer({ ...BENCH_SETTINGS, ...overrides }, { web, inheritEnv: true });
  return { app, stop: () => app.stop() };
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
