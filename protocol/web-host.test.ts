import { describe, expect, it } from 'vitest';
import { lendWebHost, webHostOf, widenPolicy, type WebHost } from './web-host.js';

const policy =
  "default-src 'self'; connect-src 'self'; media-src 'self' blob:; script-src 'self' 'nonce-abc'; frame-ancestors 'none'";

describe('widenPolicy', () => {
  it('adds the sources to connect-src and media-src only', () => {
    const widened = widenPolicy(policy, ['https:', 'wss:']);
    expect(widened.split('; ')).toEqual([
      "default-src 'self'",
      "connect-src 'self' https: wss:",
      "media-src 'self' blob: https: wss:",
      "script-src 'self' 'nonce-abc'",
      "frame-ancestors 'none'",
    ]);
  });

  it('leaves the policy as it is without sources, and does not repeat a source', () => {
    expect(widenPolicy(policy, [])).toBe(policy);
    expect(widenPolicy(policy, ['blob:'])).toBe(policy.replace("connect-src 'self'", "connect-src 'self' blob:"));
  });
});

describe('lendWebHost', () => {
  it('carries the host on the request it was lent with, and on no other', () => {
    const host: WebHost = { log: { error: () => undefined, debug: () => undefined }, crossOriginSources: ['https:'] };
    const req = lendWebHost({ url: '/' }, host);
    expect(webHostOf(req)).toBe(host);
    expect(req.url).toBe('/');
    expect(webHostOf({})).toBeUndefined();
    expect(webHostOf(undefined)).toBeUndefined();
  });
});
