import { BoxSplitter, readFragment, readInit, restoreFirstAacSample, restoreFirstVideoSample, type FragmentTiming, type TrackInfo } from './fmp4.js';
import type { LlPackager } from './ll-packager.js';

export interface Fmp4FeedHooks {
  /** The init segment was read: the tracks it declares (a caller may refuse them by throwing). */
  onInit?: (tracks: TrackInfo[], init: Buffer) => void;
  /** A fragment went to the packager (its `moof`+`mdat`, its timing, when it arrived). */
  onFragment?: (data: Buffer, timing: FragmentTiming, arrivedAt: number) => void;
  /** The output could not be read (or a hook threw); nothing more is fed after it. */
  onBroken: (error: unknown) => void;
  /**
   * Put the first video frame back at its true time too (see restoreFirstVideoSample): what
   * follows it is held until the next frame says how long it lasts. A ladder's renditions need
   * it: their first key frames are matched, and FFmpeg moves each output's differently.
   */
  restoreFirstFrame?: boolean;
}

interface Fragment {
  moof: Buffer;
  mdat: Buffer;
  timing: FragmentTiming;
  arrivedAt: number;
}

/** restoreFirstFrame holds at most this many fragments (about half a second) waiting for the second frame. */
const MAX_HELD_FOR_FIRST_FRAME = 24;

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
  /** restoreFirstFrame: the run's first video fragment and what came after it, held until the next video fragment. */
  let held: Fragment[] | null = null;
  let videoSeen = !hooks.restoreFirstFrame;
  const add = ({ moof, mdat, timing, arrivedAt }: Fragment, primary: 'video' | 'audio') => {
    const data = Buffer.concat([moof, mdat]);
    packager.addFragment(data, timing, arrivedAt, primary);
    hooks.onFragment?.(data, timing, arrivedAt);
  };
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
          const fragment: Fragment = { moof, mdat: box.data, timing, arrivedAt: now };
          moof = null;
          if (!videoSeen && timing.video) {
            videoSeen = true;
            held = [fragment];
          } else if (held && timing.video) {
            // The second frame: the first takes its length, and what was held goes on.
            const [first, ...rest] = held;
            const restored = restoreFirstVideoSample(first!.moof, tracks, timing.video);
            for (const f of [{ ...first!, moof: restored, timing: readFragment(restored, tracks) }, ...rest, fragment]) add(f, primary);
            held = null;
          } else if (held) {
            held.push(fragment);
            if (held.length > MAX_HELD_FOR_FIRST_FRAME) {
              // No second frame (the video stalled at once): what is held goes on as it is.
              for (const f of held) add(f, primary);
              held = null;
            }
          } else add(fragment, primary);
        }
      }
    } catch (error) {
      broken = true;
      hooks.onBroken(error);
    }
  };
}
