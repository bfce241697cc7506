/**
 * What the livecast server lends the SvelteKit app (web/src/hooks.server.ts) with each request it
 * hands over: its logger, so that errors of the app are JSON log lines like every other.
 *
 * It travels with the request (adapter-node gives hooks the Node request as `event.platform.req`),
 * not in a global: the app is a separately built bundle that cannot import the server's modules,
 * and one process may run several servers (the tests do), each with its own logger and config.
 * Not re-exported from index.ts: the browser has no use for it.
 */

type LogFn = (details: object, message: string) => void;

export interface WebHost {
  log: { error: LogFn; debug: LogFn };
}

/** Symbol.for: the server and the built app each have their own copy of this module; the key must be the same. */
export const WEB_HOST: unique symbol = Symbol.for('livecast.webHost');

export interface CarriesWebHost {
  [WEB_HOST]?: WebHost;
}

export function lendWebHost<R extends object>(req: R, host: WebHost): R & CarriesWebHost {
  return Object.assign(req, { [WEB_HOST]: host });
}

export function webHostOf(req: CarriesWebHost | undefined): WebHost | undefined {
  return req?.[WEB_HOST];
}
