import { createHash } from 'node:crypto';
import adapter from '@sveltejs/adapter-node';
import { vitePreprocess } from '@sveltejs/vite-plugin-svelte';

/**
 * The one inline style of the app: the style attribute of SvelteKit's route announcer (its
 * generated root component; a screen-reader live region it shows after the first navigation).
 * Allowed by its hash alone ('unsafe-hashes' permits exactly these attribute values, nothing
 * else). If SvelteKit changes it, the browser reports a violation and e2e/http-hygiene.spec.ts fails.
 */
const ANNOUNCER_STYLE =
  'position: absolute; left: 0; top: 0; clip: rect(0 0 0 0); clip-path: inset(50%); overflow: hidden; white-space: nowrap; width: 1px; height: 1px';
const sha256 = (text) => `sha256-${createHash('sha256').update(text).digest('base64')}`;

/** @type {import('@sveltejs/kit').Config} */
export default {
  preprocess: vitePreprocess(),
  kit: {
    // The livecast server imports build/handler.js and serves it next to /hls and Socket.IO.
    adapter: adapter({ out: 'build' }),
    alias: { $protocol: '../protocol' },
    // The pages' Content-Security-Policy header. SvelteKit adds a fresh nonce per page for its
    // inline start-up script ('auto': nonces, as no page is prerendered). Every source is the
    // page's own origin unless named; in a cluster the server adds the other instances to
    // connect-src and media-src (see hooks.server.ts).
    csp: {
      mode: 'auto',
      directives: {
        'default-src': ['self'],
        'script-src': ['self'],
        // No inline styles (app.html has none; components' styles are built into files) but one.
        'style-src': ['self'],
        'style-src-attr': ['unsafe-hashes', sha256(ANNOUNCER_STYLE)],
        'img-src': ['self'],
        // Socket.IO (WebSocket to the same origin) and hls.js (playlists and segments over fetch/XHR).
        'connect-src': ['self'],
        // hls.js plays through MediaSource, whose object URL is a blob:.
        'media-src': ['self', 'blob:'],
        // No workers: hls.js's ES module build (the one bundled) has no inline worker and demuxes
        // on the page (`enableWorker` then does nothing); its UMD build would need blob: here.
        'worker-src': ['none'],
        'object-src': ['none'],
        'base-uri': ['none'],
        'form-action': ['self'],
        // Nobody may frame the pages (clickjacking of "Go live" and the camera); X-Frame-Options
        // (set by the server) says the same to browsers without CSP level 2.
        'frame-ancestors': ['none'],
      },
    },
  },
};
