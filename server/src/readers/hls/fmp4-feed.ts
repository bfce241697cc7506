import { BoxSplitter, readFragment, readInit, restoreFirstAacSample, type FragmentTiming, type TrackInfo } from './fmp4.js';
import type { LlPackager } from './ll-packager.js';

export interface Fmp4FeedHooks {
  /** The init segment was read: the tracks it declares (a caller may refuse them by throwing). */
  onInit?: (tracks: TrackInfo[], init: Buffer) => void;
  /** A fragment went to the packager (its `moof`+`mdat`, its timing, when it arrived). */
  onFragment?: (data: Buffer, timing: FragmentTiming, arrivedAt: number) => void;
  /** The output could not be read (or a hook threw); nothing more is fed after it. */
  onBroken: (error: unknown) => void;
}

/**
 * Reads one FFmpeg's fragmented-MP4 output into a packager: the init segment, then fragments.
 * One feed per FFmpeg run: a new run starts a new timeline with its own init segment.
 */
export function fmp4Feed(packager: LlPackager, hooks: Fmp4FeedHooks): (chunk: Buffer) => void {
  const splitter = new BoxSplitter();
  let ftyp: Buffer | null = null;
  let moof: Buffer | null = null;
  let tracks: TrackInfo[] | null = null;
  let broken = false;
  /** FFmpeg lengthens only a track's first sample (see restoreFirstAacSample). */
  let audioSeen = false;
  return (chunk) => {
    if (broken) return;
    try {
      for (const box of splitter.push(chunk)) {
        if (box.type === 'ftyp') ftyp = box.data;
        else if (box.type === 'moov') {
          tracks = readInit(box.data);
          const init = Buffer.concat(ftyp ? [ftyp, box.data] : [box.data]);
          hooks.onInit?.(tracks, init);
          packager.setInit(init);
        } else if (box.type === 'moof') moof = box.data;
        else if (box.type === 'mdat' && moof && tracks) {
          const primary = tracks.some((t) => t.kind === 'video') ? 'video' : 'audio';
          const now = Date.now();
          let timing = readFragment(moof, tracks);
          if (timing.audio && !audioSeen) {
            audioSeen = true;
            moof = restoreFirstAacSample(moof, tracks);
            timing = readFragment(moof, tracks);
          }
          const data = Buffer.concat([moof, box.data]);
          packager.addFragment(data, timing, now, primary);
          hooks.onFragment?.(data, timing, now);
          moof = null;
        }
      }
    } catch (error) {
      broken = true;
      hooks.onBroken(error);
    }
  };
}
