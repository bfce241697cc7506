import { describe, expect, it } from 'vitest';
import { lendWebHost, previewTags, webHostOf, widenPolicy, type WebHost } from './web-host.js';

const policy =
  "default-src 'self'; connect-src 'self'; media-src 'self' blob:; img-src 'self'; script-src 'self' 'nonce-abc'; frame-ancestors 'none'";

describe('widenPolicy', () => {
  it('adds the sources to connect-src, media-src and img-src only', () => {
    const widened = widenPolicy(policy, ['https:', 'wss:']);
    expect(widened.split('; ')).toEqual([
      "default-src 'self'",
      "connect-src 'self' https: wss:",
      "media-src 'self' blob: https: wss:",
      "img-src 'self' https: wss:",
      "script-src 'self' 'nonce-abc'",
      "frame-ancestors 'none'",
    ]);
  });

  it('leaves the policy as it is without sources, and does not repeat a source', () => {
    expect(widenPolicy(policy, [])).toBe(policy);
    expect(widenPolicy(policy, ['blob:'])).toBe(policy.replace("connect-src 'self'", "connect-src 'self' blob:").replace("img-src 'self'", "img-src 'self' blob:"));
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

describe('previewTags', () => {
  it('names the stream and its picture for link previews, every value escaped', () => {
    const tags = previewTags(
      { title: '<script>alert("x")</script> & co', description: "Bob's \"show\"", live: true, image: 'https://live.example/thumbnails/a.jpg?t=1&u=2', pageUrl: 'https://live.example/watch/a' },
    );
    expect(tags).toContain('<meta property="og:url" content="https://live.example/watch/a">');
    expect(tags).toContain('<title>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; co · livecast</title>');
    expect(tags).toContain('<meta property="og:title" content="&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; co">');
    expect(tags).toContain('<meta property="og:description" content="Bob&#39;s &quot;show&quot;">');
    expect(tags).toContain('<meta property="og:image" content="https://live.example/thumbnails/a.jpg?t=1&amp;u=2">');
    expect(tags).toContain('<meta name="twitter:card" content="summary_large_image">');
    expect(tags).not.toContain('<script>');
  });

  it('has words for an untitled stream, and no image tags without a picture', () => {
    const tags = previewTags({ title: '', description: '', live: true, image: null, pageUrl: 'http://127.0.0.1:3000/watch/a' });
    expect(tags).toContain('<meta property="og:title" content="Untitled stream">');
    expect(tags).toContain('<meta property="og:description" content="Live now on livecast">');
    expect(tags).not.toContain('og:image');
  });
});
