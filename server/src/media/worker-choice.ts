export interface WorkerLoad {
  /** Routers (channels) the worker carries. */
  routers: number;
  /** Consumers across its routers: a viewer costs the worker more than an idle router. */
  consumers: number;
}

/**
 * Index of the least-loaded worker: fewest routers, then fewest consumers, then lowest index so
 * that the choice is deterministic. Returns -1 when there is no worker to choose from.
 */
export function pickLeastLoaded(loads: readonly WorkerLoad[]): number {
  let best = -1;
  for (let i = 0; i < loads.length; i++) {
    const load = loads[i]!;
    const current = best === -1 ? undefined : loads[best]!;
    if (
      !current ||
      load.routers < current.routers ||
      (load.routers === current.routers && load.consumers < current.consumers)
    ) {
      best = i;
    }
  }
  return best;
}
