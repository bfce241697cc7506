import HLS from 'hls-parser';
import { round3, type LlPackager, type Segment } from './ll-packager.js';
import type { RenditionReport } from './renditions.js';

/** Durations in playlists: milliseconds are plenty, and floats must not print as 0.20000000000000001. */

/**
 * The media playlist of a packager's window, written by hls-parser: classic players read the
 * segments (EXTINF, EXT-X-MAP, PROGRAM-DATE-TIME, DISCONTINUITY) and ignore the rest; LL-HLS
 * players read EXT-X-SERVER-CONTROL, EXT-X-PART-INF, the parts of the last three target
 * durations and the preload hint. `skip` writes a delta update (`_HLS_skip=YES`): segments older
 * than CAN-SKIP-UNTIL from the end are replaced by EXT-X-SKIP.
 */
export function writeLlPlaylist(packager: LlPackager, o: { skip?: boolean; renditionReports?: RenditionReport[] } = {}): string {
  const partTarget = packager.partTarget;
  const td = packager.targetDuration;
  const segments = packager.segments;
  const complete = segments.filter((s) => s.data !== null);
  const total = complete.reduce((sum, s) => sum + s.duration, 0);

  let skipped = 0;
  if (o.skip) {
    // Skippable: what lies more than CAN-SKIP-UNTIL before the end of the playlist.
    let fromEnd = total;
    for (const segment of complete) {
      if (fromEnd - segment.duration < packager.canSkipUntil) break;
      fromEnd -= segment.duration;
      skipped++;
    }
  }

  // Parts are listed for the last three segments (the one being built among them): no part is
  // then more than three target durations from the end (§4.4.4.9), and no strict parser counts otherwise.
  const recentFrom = Math.max(0, segments.length - (segments.at(-1)?.data === null ? 3 : 2));

  const hint = packager.hintedPart;
  const listed: Segment[] = segments.slice(skipped).filter((s) => s.data !== null || s.parts.length > 0 || hint !== null);
  const out = listed.map((segment) => {
    const index = segments.indexOf(segment);
    // A part is never declared longer than the target (a MUST). The packager ends a part before a
    // frame that would not fit, so only a part of one frame that itself outlasts the target (the
    // sender stalled for 0.2–0.5 s after it) is longer; the segment's EXTINF keeps the truth.
    const parts = index >= recentFrom ? segment.parts.map((p) => new HLS.types.PartialSegment({ hint: false, uri: p.name, duration: Math.min(round3(p.duration), partTarget), independent: p.independent || undefined })) : [];
    const isOpen = segment.data === null;
    if (isOpen && hint) parts.push(new HLS.types.PartialSegment({ hint: true, uri: hint }));
    return new HLS.types.Segment({
      uri: segment.name,
      duration: isOpen ? undefined : round3(segment.duration),
      mediaSequenceNumber: segment.msn,
      discontinuity: segment.discontinuity,
      map: new HLS.types.MediaInitializationSection({ uri: segment.init }),
      programDateTime: new Date(segment.programDateTime),
      parts,
    });
  });
  // After the last complete segment, the next part's hint goes on an empty open segment (hls-parser writes only its hint).
  const last = segments.at(-1);
  if (hint && (!last || last.data !== null)) out.push(new HLS.types.Segment({ uri: '', parts: [new HLS.types.PartialSegment({ hint: true, uri: hint })] }));

  const playlist = new HLS.types.MediaPlaylist({
    version: 9,
    targetDuration: td,
    mediaSequenceBase: segments[0]?.msn ?? 0,
    discontinuitySequenceBase: packager.discontinuitySequenceBase,
    lowLatencyCompatibility: {
      canBlockReload: true,
      canSkipUntil: packager.canSkipUntil,
      holdBack: 3 * td,
      // Three part targets (rfc8216bis asks at least two; hls.js plays this far behind the live edge).
      partHoldBack: round3(3 * partTarget),
    },
    partTargetDuration: partTarget,
    skip: skipped,
    segments: out,
    endlist: packager.isEnded,
    renditionReports: (o.renditionReports ?? []).map((r) => new HLS.types.RenditionReport({ uri: r.uri, lastMSN: r.lastMsn, lastPart: r.lastPart })),
  });
  return HLS.stringify(playlist);
}
