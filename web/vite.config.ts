import { sveltekit } from '@sveltejs/kit/vite';
import { defineConfig } from 'vite';

export default defineConfig({
  plugins: [sveltekit()],
  // The shared protocol module lives outside web/.
  server: { fs: { allow: ['..'] } },
});
