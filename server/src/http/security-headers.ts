import type { ServerResponse } from 'node:http';

/**
 * Headers on every response of the server: /hls, /metrics, /healthz, static files, errors and
 * pages. The pages replace the Content-Security-Policy with the app's own (web/svelte.config.js:
 * SvelteKit adds a nonce per page); everything else is never meant to be a document, so nothing in
 * it may run, load or be framed should a browser open it as one.
 */
const SECURITY_HEADERS: ReadonlyArray<readonly [string, string]> = [
  ['Content-Security-Policy', "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"],
  // Served types are what they say (no script or style guessed from a playlist or an upload).
  ['X-Content-Type-Options', 'nosniff'],
  // frame-ancestors 'none' for browsers that predate it: /go-live must not be framed (clickjacking).
  ['X-Frame-Options', 'DENY'],
  // Nothing needs the Referer; page URLs (channel ids) stay on this site.
  ['Referrer-Policy', 'no-referrer'],
  // /go-live asks for the camera and microphone; no frame or other origin may, and nothing else is used.
  ['Permissions-Policy', 'camera=(self), microphone=(self), display-capture=(), geolocation=(), payment=(), usb=()'],
];

/**
 * No Strict-Transport-Security, even when the server speaks HTTPS itself (TLS_CERT): HSTS makes
 * browsers refuse the host over HTTP, and refuse to click through a certificate warning, for as
 * long as max-age says. On a LAN with a self-signed certificate, or after going back to plain HTTP,
 * that locks every browser that ever visited out of the site. A deployment with a real certificate
 * that wants HSTS adds it at its proxy or CDN, where it knows the certificate will stay valid.
 */
export function setSecurityHeaders(res: ServerResponse): void {
  for (const [name, value] of SECURITY_HEADERS) res.setHeader(name, value);
}

/**
 * The same headers as a flat [name, value, …] list, for responses written in one `writeHead`
 * call (/hls: thousands a second; setHeader per header per response showed in the profile).
 */
export const SECURITY_HEADER_LIST: readonly string[] = SECURITY_HEADERS.flat();
