import { readFile } from 'node:fs/promises';

/**
 * Local UDP ports with a bound socket, from /proc/net/udp{,6}. Used to learn when FFmpeg is
 * actually listening: RTP sent before that is lost, and with it the first key frame.
 */
export function parseProcNetUdp(text: string): Set<number> {
  const ports = new Set<number>();
  for (const line of text.split('\n').slice(1)) {
    const local = line.trim().split(/\s+/)[1]; // "0100007F:4E20"
    const hexPort = local?.split(':')[1];
    if (hexPort) ports.add(parseInt(hexPort, 16));
  }
  return ports;
}

export async function boundUdpPorts(): Promise<Set<number>> {
  const texts = await Promise.all(['/proc/net/udp', '/proc/net/udp6'].map((f) => readFile(f, 'utf8').catch(() => '')));
  return new Set(texts.flatMap((t) => [...parseProcNetUdp(t)]));
}

export async function waitForUdpPorts(
  ports: number[],
  opts: { timeoutMs: number; intervalMs?: number; isCancelled?: () => boolean },
): Promise<void> {
  const deadline = Date.now() + opts.timeoutMs;
  for (;;) {
    const bound = await boundUdpPorts();
    if (ports.every((p) => bound.has(p))) return;
    if (opts.isCancelled?.()) throw new Error('cancelled while waiting for FFmpeg to listen');
    if (Date.now() > deadline) throw new Error(`FFmpeg did not open UDP ports ${ports.join(', ')} within ${opts.timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 20));
  }
}
