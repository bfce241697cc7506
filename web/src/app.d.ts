// See https://svelte.dev/docs/kit/types#app.d.ts
import type { CarriesWebHost } from '$protocol/web-host';
import type { WatchMetrics } from '$lib/watch-metrics';

declare global {
  namespace App {
    /** adapter-node passes the Node request; the livecast server lends it a WebHost. */
    interface Platform {
      req: CarriesWebHost;
    }
  }
  interface Window {
    __livecast?: WatchMetrics;
  }
}
export {};
