import { describe, expect, it } from 'vitest';
import { lendWebHost, webHostOf, type WebHost } from './web-host.js';

describe('lendWebHost', () => {
  it('carries the host on the request it was lent with, and on no other', () => {
    const host: WebHost = { log: { error: () => undefined, debug: () => undefined } };
    const req = lendWebHost({ url: '/' }, host);
    expect(webHostOf(req)).toBe(host);
    expect(req.url).toBe('/');
    expect(webHostOf({})).toBeUndefined();
    expect(webHostOf(undefined)).toBeUndefined();
  });
});
