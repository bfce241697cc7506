/**
 * The SRT URL FFmpeg listens on for one channel: the channel's stream key is the passphrase, so
 * libsrt refuses an encoder with another key during the handshake, before any media is read
 * (the listener goes on waiting). The key length follows the caller (AES-128/192/256).
 */
export function srtListenerUrl(host: string, port: number, passphrase: string): string {
  const query = new URLSearchParams({ mode: 'listener', passphrase, latency: String(LATENCY_MICROS) });
  return `srt://${host.includes(':') ? `[${host}]` : host}:${port}?${query.toString()}`;
}

/** SRT's receive latency (its retransmission window), µs: the SRT default, 120 ms. */
const LATENCY_MICROS = 120_000;
