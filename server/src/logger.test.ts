import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, wantsPretty } from './logger.js';

/** A stream that keeps what is written to it. */
function capture(): { stream: Writable; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer | string, _encoding, done) {
      chunks.push(String(chunk));
      done();
    },
  });
  return { stream, text: () => chunks.join('') };
}

describe('logger', () => {
  it('is readable at a terminal and JSON lines elsewhere, unless told', () => {
    expect(wantsPretty('auto', true)).toBe(true);
    expect(wantsPretty('auto', false)).toBe(false);
    expect(wantsPretty('json', true)).toBe(false);
    expect(wantsPretty('pretty', false)).toBe(true);
  });

  it('writes one readable line per event when pretty, with the message and its fields', () => {
    const out = capture();
    const logger = createLogger('info', out.stream, { pretty: true });
    logger.info({ url: 'http://127.0.0.1:3000', workers: 2 }, 'livecast listening on http://127.0.0.1:3000: open it in a browser');
    logger.debug('not at this level');
    const lines = out.text().trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    // The message first, its fields after it on the same line; no JSON record.
    expect(lines[0]).toMatch(/^\[\d\d:\d\d:\d\d\] INFO: livecast listening on http:\/\/127\.0\.0\.1:3000: open it in a browser \{.*"workers":2.*\}$/);
    expect(out.text()).not.toContain('"level"');
    expect(out.text()).not.toContain('not at this level');
  });

  it('writes JSON lines otherwise', () => {
    const out = capture();
    createLogger('info', out.stream).info({ url: 'http://127.0.0.1:3000' }, 'livecast listening');
    expect(JSON.parse(out.text())).toMatchObject({ level: 30, msg: 'livecast listening', url: 'http://127.0.0.1:3000' });
  });
});
