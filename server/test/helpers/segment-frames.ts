import type HLS from 'hls-parser';
import { BoxSplitter, readFragment, readInit, type TrackSpan } from '../../src/readers/hls/fmp4.js';

/** A served segment's video frames (start, duration, key frame; seconds of media time), read from its boxes. `dir`: its playlist's URL up to the last slash. */
export async function segmentVideoFrames(dir: string, segment: HLS.types.Segment): Promise<TrackSpan[]> {
  const get = async (uri: string) => {
    const response = await fetch(`${dir}${uri}`);
    if (!response.ok) throw new Error(`${dir}${uri}: HTTP ${response.status}`);
    return Buffer.from(await response.arrayBuffer());
  };
  if (!segment.map) throw new Error(`${segment.uri} has no init segment (EXT-X-MAP)`);
  const [init, data] = await Promise.all([get(segment.map.uri), get(segment.uri)]);
  const moov = new BoxSplitter().push(init).find((b) => b.type === 'moov');
  if (!moov) throw new Error(`${segment.map.uri} has no moov box`);
  const tracks = readInit(moov.data);
  return new BoxSplitter()
    .push(data)
    .filter((b) => b.type === 'moof')
    .flatMap((b) => readFragment(b.data, tracks).video ?? []);
}

/** Where one frame ends more than a millisecond before the next starts (a frame missing). */
export const frameHoles = (frames: TrackSpan[]): string[] =>
  frames.slice(1).flatMap((f, i) => (f.start - (frames[i]!.start + frames[i]!.duration) > 0.001 ? [`${(frames[i]!.start + frames[i]!.duration).toFixed(3)}–${f.start.toFixed(3)}`] : []));

/** Two renditions' frames paired in order by time (within `tolerance`, seconds); `unpaired`: frames one has and the other lacks. */
export function pairFrames(a: TrackSpan[], b: TrackSpan[], tolerance: number): { pairs: [TrackSpan, TrackSpan][]; unpaired: number } {
  const pairs: [TrackSpan, TrackSpan][] = [];
  let [i, j, unpaired] = [0, 0, 0];
  while (i < a.length && j < b.length) {
    if (Math.abs(a[i]!.start - b[j]!.start) <= tolerance) pairs.push([a[i++]!, b[j++]!]);
    else if (a[i]!.start < b[j]!.start) [i, unpaired] = [i + 1, unpaired + 1];
    else [j, unpaired] = [j + 1, unpaired + 1];
  }
  return { pairs, unpaired: unpaired + (a.length - i) + (b.length - j) };
}
