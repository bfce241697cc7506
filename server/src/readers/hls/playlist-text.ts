/** What a live media playlist says about its sliding window. */
export interface PlaylistWindow {
  mediaSequence: number;
  segments: number;
  /** Media sequence number of the newest segment; -1 when none is listed yet. */
  lastMsn: number;
  targetDuration: number;
}

export function parsePlaylistWindow(text: string): PlaylistWindow {
  const mediaSequence = Number(/^#EXT-X-MEDIA-SEQUENCE:(\d+)/m.exec(text)?.[1] ?? 0);
  const targetDuration = Number(/^#EXT-X-TARGETDURATION:(\d+)/m.exec(text)?.[1] ?? 0);
  const segments = (text.match(/^#EXTINF:/gm) ?? []).length;
  return { mediaSequence, segments, lastMsn: segments > 0 ? mediaSequence + segments - 1 : -1, targetDuration };
}

/**
 * Advertises blocking playlist reload (LL-HLS delivery directives): players that understand it
 * ask for `?_HLS_msn=<next>` right away and get the playlist the moment that segment exists,
 * instead of polling once per target duration and seeing each update half a segment late.
 */
export function withBlockingReload(text: string): string {
  if (text.includes('#EXT-X-SERVER-CONTROL')) return text;
  return text.replace(/^(#EXT-X-TARGETDURATION:\d+)$/m, '$1\n#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES');
}
