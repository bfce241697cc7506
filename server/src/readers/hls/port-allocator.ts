import dgram from 'node:dgram';

/** Tells whether a UDP port can be bound on the given address right now. */
export type PortProbe = (port: number) => Promise<boolean>;

export const udpPortProbe =
  (address: string): PortProbe =>
  (port) =>
    new Promise((resolve) => {
      const socket = dgram.createSocket('udp4');
      socket.once('error', () => {
        socket.close();
        resolve(false);
      });
      socket.bind({ port, address, exclusive: true }, () => socket.close(() => resolve(true)));
    });

/**
 * Hands out blocks of consecutive UDP ports (RTP on even ports, RTCP on the next odd one) from a
 * range. It walks the range round-robin instead of reusing the lowest free block, so a port just
 * released by a stopped FFmpeg is not handed straight to the next one (late packets of the old
 * stream would land in the new one). Ports another process holds are skipped via the probe.
 * `start` (where the walk begins) is random in the server: several instances on one host then
 * rarely probe the same block at the same moment (a probe cannot reserve a port for FFmpeg).
 */
export class PortAllocator {
  private readonly inUse = new Set<number>();
  private cursor: number;

  constructor(
    private readonly min: number,
    private readonly max: number,
    private readonly probe: PortProbe,
    start = min,
    /** RTP/RTCP pairs (blocks of an even size on even ports), or single ports (SRT listeners). */
    private readonly pairs = true,
  ) {
    this.cursor = this.align(Math.min(Math.max(start, min), max));
  }

  private align(port: number): number {
    return this.pairs ? alignEven(port) : port;
  }

  get allocated(): number {
    return this.inUse.size;
  }

  /** Returns the first port of a free block of `count` consecutive ports (count even). */
  async allocate(count: number): Promise<number> {
    if (count < 1 || (this.pairs && count % 2 !== 0)) throw new Error('port blocks must have an even size');
    const first = this.align(this.min);
    const blocks = Math.floor((this.max - first + 1) / count);
    if (blocks < 1) throw new Error(`UDP port range ${this.min}-${this.max} is smaller than ${count} ports`);
    // A walk that began off the block grid (a random start) needs up to one extra lap to try every block.
    for (let tried = 0; tried < 2 * blocks; tried++) {
      if (this.cursor + count - 1 > this.max) this.cursor = first;
      const base = this.cursor;
      this.cursor += count;
      const ports = range(base, count);
      if (ports.some((p) => this.inUse.has(p))) continue;
      ports.forEach((p) => this.inUse.add(p));
      const free = await Promise.all(ports.map((p) => this.probe(p)));
      if (free.every(Boolean)) return base;
      ports.forEach((p) => this.inUse.delete(p));
    }
    throw new Error(`no free UDP ports left in ${this.min}-${this.max} for ${this.pairs ? 'the HLS pipeline' : 'SRT listeners'}`);
  }

  release(base: number, count: number): void {
    for (const p of range(base, count)) this.inUse.delete(p);
  }
}

const alignEven = (port: number): number => (port % 2 === 0 ? port : port + 1);
const range = (start: number, count: number): number[] => Array.from({ length: count }, (_, i) => start + i);
