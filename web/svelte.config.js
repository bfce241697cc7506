import adapter from '@sveltejs/adapter-node';
import { vitePreprocess } from '@sveltejs/vite-plugin-svelte';

/** @type {import('@sveltejs/kit').Config} */
export default {
  preprocess: vitePreprocess(),
  kit: {
    // The livecast server imports build/handler.js and serves it next to /hls and Socket.IO.
    adapter: adapter({ out: 'build' }),
    alias: { $protocol: '../protocol' },
  },
};
