import type { Handle, HandleServerError } from '@sveltejs/kit';
import { CHANNEL_ID_PATTERN } from '$protocol/ids';
import { previewTags, webHostOf, widenPolicy, type WebHost } from '$protocol/web-host';

/**
 * Without a livecast server around the app (`vite dev`, or handler.js mounted elsewhere): one
 * JSON line on stdout in pino's shape, so that even then no error is printed as a plain-text
 * stack trace in the middle of the JSON log.
 */
const standalone: WebHost = {
  log: {
    error: (details, msg) => process.stdout.write(`${JSON.stringify({ level: 50, time: Date.now(), pid: process.pid, ...details, msg })}\n`),
    debug: () => undefined,
  },
  crossOriginSources: [],
};

const hostOf = (event: { platform?: App.Platform }): WebHost => webHostOf(event.platform?.req) ?? standalone;

/** A cluster's pages reach other instances: the server says which sources to add to the static CSP. */
export const handle: Handle = async ({ event, resolve }) => {
  const host = hostOf(event);
  // A shared watch link previews with the stream's title and picture: the tags are written into
  // the page's HTML here, as the watch page itself renders in the browser only.
  const watched = /^\/watch\/([^/]+)$/.exec(event.url.pathname)?.[1];
  const preview = watched && CHANNEL_ID_PATTERN.test(watched) ? host.channelPreview?.(watched, event.request.headers.get('host')) : null;
  const response = await resolve(event, preview ? { transformPageChunk: ({ html }) => html.replace('</head>', `${previewTags(preview)}\n  </head>`) } : undefined);
  const { crossOriginSources } = host;
  const policy = response.headers.get('content-security-policy');
  if (policy && crossOriginSources.length) response.headers.set('content-security-policy', widenPolicy(policy, crossOriginSources));
  return response;
};

/**
 * Replaces SvelteKit's default, which prints every error, 404s included, as plain text with its
 * stack. Clients get SvelteKit's generic message ("Not Found", "Internal Error"), never details.
 */
export const handleError: HandleServerError = ({ error, event, status, message }) => {
  const { log } = hostOf(event);
  const details = { method: event.request.method, path: event.url.pathname, status };
  // Unknown URLs are the internet's background noise (scanners); they must not flood the log.
  if (status === 404) log.debug(details, 'web page not found');
  else log.error({ ...details, err: serializable(error) }, 'web request failed');
  return { message };
};

/** The fields pino's own `err` serialiser writes; JSON.stringify of a bare Error (stand-alone) would write none. */
function serializable(error: unknown): { type: string; message: string; stack?: string } {
  return error instanceof Error
    ? { type: error.name, message: error.message, stack: error.stack }
    : { type: typeof error, message: String(error) };
}
