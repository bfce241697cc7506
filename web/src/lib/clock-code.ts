/**
 * A visual clock for measuring glass-to-glass latency: the publisher paints its wall clock (ms,
 * low 32 bits) into every frame as a strip of black/white blocks; a viewer on the same machine
 * reads the strip off the decoded video and subtracts it from its own clock. Blocks are large
 * and pure black or white so that they survive compression.
 */
export const CLOCK_BITS = 32;
/** The test source's frame size; readers scale what they decode back to it. */
export const CLOCK_FRAME = { width: 640, height: 480 };
const STRIP = { top: 8, height: 24 };

function blockWidth(width: number): number {
  return Math.floor(width / CLOCK_BITS);
}

export function paintClock(ctx: CanvasRenderingContext2D, width: number, nowMs: number): void {
  const value = Math.floor(nowMs) >>> 0;
  const w = blockWidth(width);
  for (let bit = 0; bit < CLOCK_BITS; bit++) {
    ctx.fillStyle = (value >>> (CLOCK_BITS - 1 - bit)) & 1 ? '#fff' : '#000';
    ctx.fillRect(bit * w, STRIP.top, w, STRIP.height);
  }
}

/** Reads the clock from a frame drawn at the source size; null when the strip is unreadable. */
export function readClock(ctx: CanvasRenderingContext2D, width: number): number | null {
  const w = blockWidth(width);
  const y = STRIP.top + STRIP.height / 2;
  const { data } = ctx.getImageData(0, Math.floor(y), w * CLOCK_BITS, 1);
  let value = 0;
  for (let bit = 0; bit < CLOCK_BITS; bit++) {
    const i = Math.floor(bit * w + w / 2) * 4;
    const luma = 0.299 * data[i]! + 0.587 * data[i + 1]! + 0.114 * data[i + 2]!;
    // Mid-grey means a block smeared by the encoder: better no reading than a wrong one.
    if (luma > 80 && luma < 176) return null;
    value = ((value << 1) | (luma >= 128 ? 1 : 0)) >>> 0;
  }
  return value;
}

/** Latency of a reading against now, handling the 32-bit wrap (every ~49 days). */
export function clockLatencyMs(reading: number, nowMs: number): number {
  return ((Math.floor(nowMs) >>> 0) - reading + 2 ** 32) % 2 ** 32;
}
