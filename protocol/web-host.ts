/**
 * What the livecast server lends the SvelteKit app (web/src/hooks.server.ts) with each request it
 * hands over: its logger, so that errors of the app are JSON log lines like every other, and the
 * extra sources the pages' Content-Security-Policy must allow in a cluster.
 *
 * It travels with the request (adapter-node gives hooks the Node request as `event.platform.req`),
 * not in a global: the app is a separately built bundle that cannot import the server's modules,
 * and one process may run several servers (the tests do), each with its own logger and config.
 * Not re-exported from index.ts: the browser has no use for it.
 */

type LogFn = (details: object, message: string) => void;

export interface WebHost {
  log: { error: LogFn; debug: LogFn };
  /** Sources pages may connect to and play media from beyond their own origin (cluster: other instances). */
  crossOriginSources: readonly string[];
  /**
   * What a watch page's link preview shows of a channel of this instance, or null. `host`: the
   * request's Host header (the server knows whether it speaks HTTPS; SvelteKit assumes it does).
   */
  channelPreview?: (channelId: string, host: string | null) => ChannelPreview | null;
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

/**
 * The directives that decide where a page may fetch from (hls.js, Socket.IO), play media from,
 * and load pictures from (a channel's preview redirects to the instance that carries it).
 */
const WIDENED_DIRECTIVES = ['connect-src', 'media-src', 'img-src'];

/**
 * Adds `sources` to connect-src and media-src of a policy (a header value as SvelteKit makes it;
 * both directives must be in it, as in web/svelte.config.js). The policy itself is static (web/svelte.config.js) because SvelteKit builds it with a fresh
 * nonce per page; only the cluster's extra sources depend on the server's configuration.
 */
export function widenPolicy(policy: string, sources: readonly string[]): string {
  if (sources.length === 0) return policy;
  return policy
    .split(';')
    .map((directive) => {
      const name = directive.trim().split(/\s+/)[0]?.toLowerCase() ?? '';
      if (!WIDENED_DIRECTIVES.includes(name)) return directive;
      const present = new Set(directive.trim().split(/\s+/).slice(1));
      const added = sources.filter((s) => !present.has(s));
      return added.length ? `${directive.trimEnd()} ${added.join(' ')}` : directive;
    })
    .join(';');
}

/** What a link preview (Open Graph, Twitter cards) of a watch page shows. */
export interface ChannelPreview {
  title: string;
  description: string;
  live: boolean;
  /** Absolute URL of the channel's live picture, if it has one. */
  image: string | null;
  /** Absolute URL of the watch page. */
  pageUrl: string;
}

const escapeHtml = (text: string): string =>
  text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/**
 * The head tags that make a shared watch link preview with the stream's title and picture,
 * written into the server's HTML (crawlers run no script); every value escaped.
 */
export function previewTags(preview: ChannelPreview): string {
  const title = preview.title || 'Untitled stream';
  const description = preview.description || (preview.live ? 'Live now on livecast' : 'A livecast stream');
  const tags = [
    `<title>${escapeHtml(`${title} · livecast`)}</title>`,
    `<meta property="og:type" content="video.other">`,
    `<meta property="og:site_name" content="livecast">`,
    `<meta property="og:title" content="${escapeHtml(title)}">`,
    `<meta property="og:description" content="${escapeHtml(description)}">`,
    `<meta property="og:url" content="${escapeHtml(preview.pageUrl)}">`,
    `<meta name="twitter:card" content="${preview.image ? 'summary_large_image' : 'summary'}">`,
    `<meta name="twitter:title" content="${escapeHtml(title)}">`,
    `<meta name="twitter:description" content="${escapeHtml(description)}">`,
  ];
  if (preview.image) tags.push(`<meta property="og:image" content="${escapeHtml(preview.image)}">`, `<meta name="twitter:image" content="${escapeHtml(preview.image)}">`);
  return tags.join('\n    ');
}
