import { describe, expect, it } from 'vitest';
import { JpegStream } from './jpeg-stream.js';

const image = (fill: number, length: number) => Buffer.concat([Buffer.from([0xff, 0xd8]), Buffer.alloc(length, fill), Buffer.from([0xff, 0xd9])]);

describe('JpegStream', () => {
  it('returns whole images however the bytes are cut', () => {
    const a = image(0x11, 100);
    const b = image(0x22, 57);
    const all = Buffer.concat([a, b, image(0x33, 10)]);
    for (const cut of [1, 2, 3, 50, 103, 104, 105, all.length - 1]) {
      const stream = new JpegStream();
      const out = [...stream.push(all.subarray(0, cut)), ...stream.push(all.subarray(cut))];
      expect(out.map((i) => i.toString('hex'))).toEqual([a, b, image(0x33, 10)].map((i) => i.toString('hex')));
    }
  });

  it('skips bytes before an image and keeps an unfinished one for later', () => {
    const stream = new JpegStream();
    expect(stream.push(Buffer.from([0x00, 0x01, 0xff, 0xd8, 0x05]))).toEqual([]);
    const [done] = stream.push(Buffer.from([0x06, 0xff, 0xd9, 0xff]));
    expect(done!.toString('hex')).toBe('ffd80506ffd9');
  });
});
