/**
 * A visual clock for measuring glass-to-glass latency: the publisher paints its wall clock (ms,
 * low 32 bits) into every frame as a strip of black/white blocks; a viewer on the same machine
 * reads the strip off the decoded video and subtracts it from its own clock. Blocks are large
 * and pure black or white so that they survive compression.
 *
 * The reading is pure pixel logic (decodeClockRow), shared by the pages (readClock, on a canvas)
 * and by Node (bench/av-sync, on frames FFmpeg decodes to grey).
 */
export const CLOCK_BITS = 32;
/** The test source's frame size; readers scale what they decode back to it. */
export const CLOCK_FRAME = { width: 640, height: 480 };
const STRIP = { top: 8, height: 24 };
/** The pixel row through the middle of the strip, where readers sample it. */
export const CLOCK_ROW = Math.floor(STRIP.top + STRIP.height / 2);

function blockWidth(width: number): number {
  return Math.floor(width / CLOCK_BITS);
}

export function paintClock(ctx: CanvasRenderingContext2D, width: number, nowMs: number): void {
  paintClockBlocks(width, nowMs, (x, y, w, h, white) => {
    ctx.fillStyle = white ? '#fff' : '#000';
    ctx.fillRect(x, y, w, h);
  });
}

/** The strip's blocks for `nowMs`, as rectangles to fill white or black (paintClock; tests paint raw frames with it). */
export function paintClockBlocks(width: number, nowMs: number, fill: (x: number, y: number, w: number, h: number, white: boolean) => void): void {
  const value = Math.floor(nowMs) >>> 0;
  const w = blockWidth(width);
  for (let bit = 0; bit < CLOCK_BITS; bit++) fill(bit * w, STRIP.top, w, STRIP.height, ((value >>> (CLOCK_BITS - 1 - bit)) & 1) === 1);
}

/**
 * Decodes the strip from the luma (0–255) of the pixels of row CLOCK_ROW of a frame of `width`
 * pixels; null when a block is mid-grey (smeared by the encoder: better no reading than a wrong one).
 */
export function decodeClockRow(luma: (x: number) => number, width: number): number | null {
  const w = blockWidth(width);
  let value = 0;
  for (let bit = 0; bit < CLOCK_BITS; bit++) {
    const y = luma(Math.floor(bit * w + w / 2));
    if (y > 80 && y < 176) return null;
    value = ((value << 1) | (y >= 128 ? 1 : 0)) >>> 0;
  }
  return value;
}

/** Reads the clock from a frame drawn at the source size; null when the strip is unreadable. */
export function readClock(ctx: CanvasRenderingContext2D, width: number): number | null {
  const { data } = ctx.getImageData(0, CLOCK_ROW, blockWidth(width) * CLOCK_BITS, 1);
  return decodeClockRow((x) => 0.299 * data[x * 4]! + 0.587 * data[x * 4 + 1]! + 0.114 * data[x * 4 + 2]!, width);
}

/** Latency of a reading against now, handling the 32-bit wrap (every ~49 days). */
export function clockLatencyMs(reading: number, nowMs: number): number {
  return ((Math.floor(nowMs) >>> 0) - reading + 2 ** 32) % 2 ** 32;
}

/** A reading (the low 32 bits of a wall clock, ms) made whole again: the wall clock nearest `nearMs` with those bits. */
export function unwrapClock(reading: number, nearMs: number): number {
  const behind = clockLatencyMs(reading, nearMs);
  return Math.floor(nearMs) - (behind > 2 ** 31 ? behind - 2 ** 32 : behind);
}
