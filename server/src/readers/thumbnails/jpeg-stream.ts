/**
 * Splits FFmpeg's `image2pipe` MJPEG output into whole JPEG images. Each image runs from its
 * start-of-image marker (FF D8) to its end-of-image marker (FF D9); inside the coded data a
 * 0xFF byte is always followed by 0x00 or a restart marker, so FF D9 cannot occur before the end.
 */
export class JpegStream {
  private pending: Buffer = Buffer.alloc(0);

  /** Feeds bytes; returns the images completed by them, in order. */
  push(chunk: Buffer): Buffer[] {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const images: Buffer[] = [];
    for (;;) {
      const start = this.pending.indexOf(SOI);
      if (start < 0) {
        // Nothing that starts an image: keep only a trailing 0xFF (half a marker).
        this.pending = this.pending.subarray(Math.max(0, this.pending.length - 1));
        return images;
      }
      const end = this.pending.indexOf(EOI, start + 2);
      if (end < 0) {
        this.pending = this.pending.subarray(start);
        return images;
      }
      images.push(Buffer.from(this.pending.subarray(start, end + 2)));
      this.pending = this.pending.subarray(end + 2);
    }
  }
}

const SOI = Buffer.from([0xff, 0xd8]);
const EOI = Buffer.from([0xff, 0xd9]);
