import type { FragmentTiming, TrackSpan } from './fmp4.js';

/**
 * LL-HLS packaging of one channel's fragmented MP4 (RFC 8216bis): fragments of about one frame
 * are grouped into partial segments of at most the part target, segments start at key frames
 * (cut at the first key frame past half the segment target; see onKeyFrameWanted for a segment
 * that had to start without one), and the window, the removal delay and the program date-time
 * follow the spec's rules. Pure: bytes and timings in, state out; the clock is given.
 */

export interface PackagerOptions {
  /** The wanted part length, seconds (the declared PART-TARGET is the nearest whole number of fragments). */
  partTarget: number;
  /** The wanted segment length (key frames are asked for at this interval), seconds. */
  segmentTarget: number;
  /** Milliseconds since the epoch (tests give their own clock). */
  now: () => number;
  /**
   * Another rendition of the same capture whose segment and part boundaries this one takes
   * (see follow): the same segment numbers start at the same media time in both.
   */
  follow?: LlPackager;
  /**
   * Following: this rendition's frames are the leader's own, one to one, with a key frame exactly
   * where the leader has one (a ladder's rung, encoded from the leader's frames). Its n-th key
   * frame of a timeline is then the leader's n-th, whatever their times say: the outputs of one
   * FFmpeg each start their timeline at their own first sample, and a copied stream with
   * B-frames decodes a frame earlier than a rung without them presents it. Without it, the
   * leader's key frame is the one within a few ms (simulcast layers: encoded apart).
   */
  sameFrames?: boolean;
  /**
   * A segment had to start without a key frame (a late frame after a short part, or no key frame
   * by the longest segment): the source should send one, which then starts the next segment.
   * Asked for when that segment is nearly half the target long (KEY_FRAME_ASKED_BEFORE), so that
   * the answer starts the next one at about half the target, not a few frames after this one.
   */
  onKeyFrameWanted?: () => void;
}

/**
 * Where the leader cut, on its timeline (`generation`: its init segment's number): a part or a
 * segment ended at `at`, or the segment `msn` starts at `at`.
 */
type Cut =
  | { generation: number; at: number; kind: 'part-end' | 'segment-end' }
  /** `keyFrame`: the segment's first frame is the timeline's `keyFrame`-th key frame (from 0), or null if it is no key frame. */
  | { generation: number; at: number; kind: 'segment-start'; msn: number; discontinuity: boolean; programDateTime: number; keyFrame: number | null };

type CutListener = (cut: Cut) => void;
/** The leader packaged a frame from `start` to `end` (every cut at or before it is known). */
type ProgressListener = (generation: number, start: number, end: number) => void;

interface Held {
  data: Buffer;
  timing: FragmentTiming;
  primary: 'video' | 'audio';
  generation: number;
  heldAt: number;
  /** A key frame: the how-many-th of its timeline (from 0). */
  keyFrame: number | null;
}

export interface Part {
  name: string;
  duration: number;
  independent: boolean;
  data: Buffer;
}

export interface Segment {
  msn: number;
  name: string;
  /** The init segment (EXT-X-MAP) its fragments need. */
  init: string;
  /**
   * Wall-clock time of its first sample (EXT-X-PROGRAM-DATE-TIME), ms since the epoch: from its
   * timeline's settled anchor (see settleAnchor), a follower's from the leader's, so the segments
   * of one timeline follow each other exactly and a listed date never changes.
   */
  readonly programDateTime: number;
  discontinuity: boolean;
  parts: Part[];
  duration: number;
  /** Set once the segment is complete (its bytes: the parts' bytes in order). */
  data: Buffer | null;
}

/** A key frame this early in a segment does not start a new one (segments would get too short). */
const MIN_SEGMENT_FRACTION = 0.5;
/**
 * A segment that started without a key frame asks for one this long before it is half the target
 * long: Chromium answers in 0.1-0.35 s, so the answer lands past that half and starts the next
 * segment. Asked for at once, it landed a few frames in and cut a sliver of a segment: a run of
 * those left the last three segments (whose parts the playlist lists) so short that hls.js found
 * its playhead before the first listed part, turned part loading off and stalled.
 */
const KEY_FRAME_ASKED_BEFORE = 0.1;
/** A jump of the media clock beyond this (a frozen or restarted sender) is a discontinuity, not a long segment. */
const MAX_GAP_SECONDS = 0.5;
/**
 * A timeline's wall-clock anchor has settled when this many fragments in a row moved it by less
 * than ANCHOR_QUIET_MS (in FFmpeg's first burst each fragment moves it by its own duration).
 */
const ANCHOR_QUIET_FRAGMENTS = 5;
const ANCHOR_QUIET_MS = 10;
/** At most this much of a timeline's media is held while its anchor settles. */
const ANCHOR_MAX_HOLD_SECONDS = 3;
/** The part target is decided from this many frames' durations (FFmpeg's first frame's is often odd). */
const FRAMES_TO_DECIDE = 8;
/** Float slack when comparing durations. */
const EPSILON = 0.0005;
/**
 * Renditions of one capture carry the same frames, dated by the same sender reports: a follower's
 * frame this close to where the leader cut is the leader's frame at the cut (under half a frame
 * at 30 fps, above the few ms that the layers' report-based dating differs by).
 */
export const SAME_FRAME_SECONDS = 0.012;
/**
 * How far a follower's key frame may sit from where the leader's segment starts and still be the
 * leader's key frame (a ladder rung's decoder dates frames up to ~15 ms off the copied source's,
 * in steps as the sender's clock reports come): it then sets the follower's offset.
 */
const MAX_KEY_FRAME_OFFSET_SECONDS = 0.02;
/**
 * With sameFrames, once the offset is known: how far a rung's key frame may sit from where the
 * leader's segment starts and still be taken for the leader's key frame of the same number. A
 * rung's decoder re-dates the frames after a lost one by up to ~26 ms against the copied source's
 * (measured under CPU load), past MAX_KEY_FRAME_OFFSET_SECONDS; the number keeps a neighbouring
 * frame from being taken for it, this bound a key frame counted differently (a whole GOP away).
 */
const MAX_SAME_KEY_FRAME_DRIFT_SECONDS = 0.1;
/** A follower's frame the leader has not decided about after this long is dropped (the leader stalled: the renditions pause together). */
const MAX_FOLLOW_HOLD_MS = 1000;
/** A duration as playlists write it (ms): what players and parsers check the part rules against. */
export const round3 = (seconds: number): number => Math.round(seconds * 1000) / 1000;

type Listener = () => void;

export class LlPackager {
  /** EXT-X-TARGETDURATION: constant; every segment's EXTINF rounds to at most this. */
  readonly targetDuration: number;
  /** A segment is cut even without a key frame before it would round above the target duration. */
  private readonly maxSegment: number;
  /** The window keeps at least this much media (CAN-SKIP-UNTIL plus three target durations). */
  private readonly minWindow: number;

  private readonly inits = new Map<string, Buffer>();
  private initCount = 0;
  private currentInit: string | null = null;
  private readonly segmentList: Segment[] = [];
  private nextMsn = 0;
  private discontinuitySequence = 0;
  private pendingDiscontinuity = false;
  /**
   * The part being built. `complete`: it holds all its frames, and is published when the next
   * frame arrives: audio that FFmpeg writes alone before that frame (when video is late by two
   * AAC frames) ends this part instead of starting the next, so that every part starts with a
   * frame of the primary track at the time the playlist gives it (players that take a part's start
   * from its first fragment's time, Shaka, otherwise lay it up to 43 ms off and leave a gap).
   */
  private open: { chunks: Buffer[]; duration: number; frames: number; independent: boolean; end: number; complete: boolean } | null = null;
  /** Fragments of the other track that arrived between parts: they open the next part. */
  private carry: Buffer[] = [];
  /** Following: where its last packaged frame ended. */
  private lastEnd: number | null = null;
  /** media time ↔ wall clock of the timeline being packaged (settled: it no longer changes). */
  private anchor: Anchor | null = null;
  /** The newest timeline's anchor, settling while the timeline's first fragments are held. */
  private forming: FormingAnchor | null = null;
  /** Where the last fragment that arrived ended (a new timeline starts where this jumps). */
  private seenEnd: number | null = null;
  /** Parts are numbered across segments, so the hinted part is always the next one made, whichever segment it opens. */
  private nextPartId = 0;
  /** Files that left the window, kept fetchable until the time the spec asks (§6.2.2). */
  private readonly removed = new Map<string, { data: Buffer; until: number }>();
  private readonly listeners = new Set<Listener>();
  private ended = false;
  private declaredPartTarget: number | null = null;
  /** Frames per part, decided with the part target. */
  private framesPerPart = 0;
  private readonly cutListeners = new Set<CutListener>();
  private readonly progressListeners = new Set<ProgressListener>();
  /** Following: the leader's cuts not applied yet, and its progress on each timeline. */
  private cuts: Cut[] = [];
  private leaderProgress = { generation: -1, start: -Infinity, end: -Infinity };
  /** The leader's latest gap (its sender froze): no frame of it between `from` and `to`. */
  private leaderGap = { generation: -1, from: 0, to: 0 };
  /**
   * Following: this rendition's media time minus the leader's for the same frame, as measured at
   * the last segment start where both had a key frame (0 until then).
   */
  private followOffset = 0;
  /** Following: followOffset was measured on this timeline. */
  private offsetMeasured = false;
  /** Following with sameFrames: the leader's number for a key frame minus this rendition's, as of the last match (a decoder may drop one). */
  private keyFrameShift = 0;
  /** Following: fragments waiting until the leader has decided about their time. */
  private following: Held[] = [];
  private unfollow: (() => void) | null = null;
  /** The open segment started without a key frame, and no key frame was asked for yet (see PackagerOptions.onKeyFrameWanted). */
  private keyFrameWanted = false;
  /** Key frames of the timeline seen so far (a leader's packaged, a follower's arrived): see sameFrames. */
  private keyFrames = 0;
  /** Media time where the last part ended. */
  private lastPartEnd: number | null = null;

  constructor(private readonly o: PackagerOptions) {
    this.targetDuration = Math.max(1, Math.round(o.segmentTarget));
    this.maxSegment = this.targetDuration + 0.5 - 0.05;
    this.minWindow = this.canSkipUntil + 3 * this.targetDuration;
    const leader = o.follow;
    if (leader) {
      const stopCuts = leader.onCut((cut) => {
        this.cuts.push(cut);
        this.release();
      });
      const stopProgress = leader.onProgress((generation, start, end) => {
        const previous = this.leaderProgress;
        if (previous.generation === generation && start - previous.end > MAX_GAP_SECONDS) this.leaderGap = { generation, from: previous.end, to: start };
        this.leaderProgress = { generation, start, end };
        this.release();
      });
      this.unfollow = () => {
        stopCuts();
        stopProgress();
      };
    }
  }

  /** The leader's cuts (see PackagerOptions.follow). */
  onCut(listener: CutListener): () => void {
    this.cutListeners.add(listener);
    return () => this.cutListeners.delete(listener);
  }

  onProgress(listener: ProgressListener): () => void {
    this.progressListeners.add(listener);
    return () => this.progressListeners.delete(listener);
  }

  /** The init segments' count: which FFmpeg run (timeline) the fragments come from. */
  private get generation(): number {
    return this.initCount - 1;
  }

  /** EXT-X-SERVER-CONTROL CAN-SKIP-UNTIL: six target durations, the least the spec allows. */
  get canSkipUntil(): number {
    return 6 * this.targetDuration;
  }

  /**
   * EXT-X-PART-INF PART-TARGET: the wanted part length made a whole number of frames, decided once
   * from the first frames and constant from then on. Parts hold that many frames, so every part is
   * at most the target and, but for a segment's last, well above 85 % of it (rfc8216bis
   * §4.4.4.9); 5 % is left for the jitter of capture timestamps.
   */
  get partTarget(): number {
    return this.o.follow?.partTarget ?? this.declaredPartTarget ?? this.o.partTarget;
  }

  /** Frame durations seen before the part target is decided. */
  private readonly firstFrames: number[] = [];
  /**
   * Fragments held until the part target is decided (a few frames) and their timeline's anchor
   * has settled, then packaged in order, each with its timeline's anchor.
   */
  private held: { data: Buffer; timing: FragmentTiming; primary: 'video' | 'audio'; anchor: Anchor | null }[] = [];

  /**
   * Decides the part target from the median frame duration of the first frames; true once
   * decided. `now`: from whatever frames there are (false if none).
   */
  private decidePartTarget(span: TrackSpan | undefined, now = false): boolean {
    if (this.declaredPartTarget !== null) return true;
    if (span && span.samples > 0) this.firstFrames.push(span.duration / span.samples);
    if (this.firstFrames.length < (now ? 1 : FRAMES_TO_DECIDE)) return false;
    const sorted = [...this.firstFrames].sort((a, b) => a - b);
    const frame = Math.min(0.2, Math.max(0.004, sorted[Math.floor(sorted.length / 2)]!));
    this.framesPerPart = Math.max(1, Math.round(this.o.partTarget / frame));
    this.declaredPartTarget = Math.ceil(this.framesPerPart * frame * 1.05 * 1000 - 1e-6) / 1000;
    return true;
  }

  get segments(): readonly Segment[] {
    return this.segmentList;
  }

  get discontinuitySequenceBase(): number {
    return this.discontinuitySequence;
  }

  get isEnded(): boolean {
    return this.ended;
  }

  /**
   * The name of the next part (the preload hint), or null before the first segment and after the
   * end. Parts are numbered across segments, so the hinted part is made whether it continues the
   * open segment or a key frame makes it the first of the next.
   */
  get hintedPart(): string | null {
    if (this.ended || this.segmentList.length === 0) return null;
    return partName(this.nextPartId);
  }

  /** Media sequence number and part index of the newest part. */
  get newest(): { msn: number; part: number } | null {
    for (let i = this.segmentList.length - 1; i >= 0; i--) {
      const segment = this.segmentList[i]!;
      if (segment.parts.length > 0) return { msn: segment.msn, part: segment.parts.length - 1 };
    }
    return null;
  }

  /** The last complete segment's number, or -1. */
  get lastCompleteMsn(): number {
    for (let i = this.segmentList.length - 1; i >= 0; i--) if (this.segmentList[i]!.data !== null) return this.segmentList[i]!.msn;
    return -1;
  }

  /**
   * The newest complete segment's first part (it starts with the segment's key frame, and the
   * frames after it flush a decoder's pipeline), with the init segment it needs; null before the
   * first segment.
   */
  latestKeyFramePart(): { msn: number; init: string; initData: Buffer; part: Buffer } | null {
    for (let i = this.segmentList.length - 1; i >= 0; i--) {
      const segment = this.segmentList[i]!;
      const initData = this.inits.get(segment.init);
      if (segment.data !== null && segment.parts[0]?.independent && initData) return { msn: segment.msn, init: segment.init, initData, part: segment.parts[0].data };
    }
    return null;
  }

  onChange(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** A file by name: init, segment or part, live or recently removed. */
  file(name: string): Buffer | undefined {
    const init = this.inits.get(name);
    if (init) return init;
    const msn = /^seg_(\d+)\.m4s$/.exec(name)?.[1];
    if (msn !== undefined) {
      const data = this.segmentList.find((s) => s.msn === Number(msn))?.data;
      if (data) return data;
    } else if (name.startsWith('part_')) {
      for (let i = this.segmentList.length - 1; i >= 0; i--) {
        const part = this.segmentList[i]!.parts.find((p) => p.name === name);
        if (part) return part.data;
      }
    }
    const kept = this.removed.get(name);
    if (kept && kept.until > this.o.now()) return kept.data;
    return undefined;
  }

  /** A new init segment: FFmpeg (re)started. What follows is a new timeline (a discontinuity, unless it is the first). */
  setInit(data: Buffer): string {
    this.flushHeld();
    this.closeSegment();
    const name = `init_${this.initCount++}.mp4`;
    this.inits.set(name, data);
    this.currentInit = name;
    this.pendingDiscontinuity = this.segmentList.length > 0;
    this.lastEnd = null;
    this.anchor = null;
    this.seenEnd = null;
    this.forming = null;
    this.keyFrames = 0;
    if (this.o.follow) {
      // What is still held belongs to the previous run's segments, which have ended.
      this.following = [];
      this.cuts = this.cuts.filter((cut) => cut.generation >= this.generation);
      this.followOffset = 0;
      this.offsetMeasured = false;
      this.keyFrameShift = 0;
    }
    this.emit();
    return name;
  }

  /**
   * One fragment (`moof`+`mdat`) and its timing; `arrivedAt` is when it arrived (ms), from which
   * a leader's timeline is dated (see settleAnchor; its first fragments are held until then).
   */
  addFragment(data: Buffer, timing: FragmentTiming, arrivedAt: number, primary: 'video' | 'audio' = 'video'): void {
    if (this.ended || !this.currentInit) return;
    if (this.o.follow) {
      // A follower is dated by the leader (see applyCut): when its fragments arrive does not matter.
      const keyFrame = timing[primary]?.sync ? this.keyFrames++ : null;
      this.following.push({ data, timing, primary, generation: this.generation, heldAt: this.o.now(), keyFrame });
      return this.release();
    }
    const span = timing[primary];
    if (span) this.settleAnchor(span, arrivedAt);
    const ready = this.decidePartTarget(span) && this.forming?.settled === true;
    if (ready && this.held.length === 0) return this.package(data, timing, primary, this.forming);
    this.held.push({ data, timing, primary, anchor: this.forming });
    if (ready) this.releaseHeld();
  }

  /**
   * The run's or the stream's end: what is held is packaged as it is (its anchor as far as it
   * settled), rather than lost.
   */
  private flushHeld(): void {
    if (this.held.length > 0 && this.decidePartTarget(undefined, true)) this.releaseHeld();
    this.held = [];
  }

  /** Packages the held fragments in order; one at a time, so that followers see it holding until the last is packaged. */
  private releaseHeld(): void {
    while (this.held.length > 0) {
      const { data, timing, primary, anchor } = this.held[0]!;
      this.package(data, timing, primary, anchor);
      this.held.shift();
    }
  }

  /** Whether fragments are held (followers then keep theirs however long it takes). */
  private get holding(): boolean {
    return this.held.length > 0;
  }

  /**
   * Program date-times are the wall clock of capture: a fragment's first sample was captured
   * about its duration before it arrived, plus the delay of the path, whose least value the
   * fastest fragment shows. FFmpeg's first fragments come late, in a burst after it probed its
   * input (1.2 s of media in one go, measured), so a timeline's fragments are held until its
   * anchor settles (ANCHOR_QUIET_FRAGMENTS, at most ANCHOR_MAX_HOLD_SECONDS of media), and then
   * never moves: a date a playlist has shown never changes (rfc8216bis §6.2.2 allows no change to
   * a listed segment), which players that lay segments out by their dates (Shaka) need.
   */
  private settleAnchor(span: TrackSpan, arrivedAt: number): void {
    // A frame lasting seconds (the sender froze after it) dates nothing; what follows it is a new timeline.
    const duration = span.duration > MAX_GAP_SECONDS ? 0 : span.duration;
    const broke = this.seenEnd === null || Math.abs(span.start - this.seenEnd) > MAX_GAP_SECONDS;
    this.seenEnd = span.start + duration;
    const captured = arrivedAt - duration * 1000;
    if (broke) {
      this.forming = { media: span.start, wall: captured, quiet: 0, settled: false };
      return;
    }
    const forming = this.forming;
    if (!forming || forming.settled) return;
    const wall = captured - (span.start - forming.media) * 1000;
    // (Under half a frame: at 100 fps and more, a burst's frames would otherwise look quiet.)
    forming.quiet = wall < forming.wall - Math.min(ANCHOR_QUIET_MS, (duration * 1000) / 2) ? 0 : forming.quiet + 1;
    forming.wall = Math.min(forming.wall, wall);
    if (forming.quiet >= ANCHOR_QUIET_FRAGMENTS || span.start - forming.media >= ANCHOR_MAX_HOLD_SECONDS) forming.settled = true;
  }

  private package(data: Buffer, timing: FragmentTiming, primary: 'video' | 'audio', anchor: Anchor | null): void {
    this.packageFrame(data, timing, primary, anchor);
    const span = timing[primary];
    if (span) for (const listener of [...this.progressListeners]) listener(this.generation, span.start, span.start + span.duration);
  }

  /** `anchor`: the wall clock of the fragment's timeline (a new one starts a new timeline). */
  private packageFrame(data: Buffer, timing: FragmentTiming, primary: 'video' | 'audio', anchor: Anchor | null): void {
    let span = timing[primary];
    if (span && span.duration > MAX_GAP_SECONDS) {
      // A frame lasting seconds: the sender froze after it (FFmpeg dates a frame's end by the next
      // one). It counts as an ordinary frame; what follows starts a new timeline (see the gap check).
      const frame = this.framesPerPart > 0 ? this.partTarget / 1.05 / this.framesPerPart : 1 / 30;
      span = { ...span, duration: frame * Math.max(1, span.samples) };
    }
    if (!span) return this.addOtherTrack(data, timing, primary);
    if (span.sync) this.keyFrames++;
    if (this.open?.complete) this.closePart();
    if (this.anchor !== null && anchor !== this.anchor) {
      // The sender froze (or its clock jumped; see settleAnchor): the media so far ends here, the
      // rest is a new timeline.
      this.closeSegment();
      this.pendingDiscontinuity = true;
    }
    this.anchor = anchor;
    const segment = this.openSegment();
    if (!segment && !span.sync) {
      // Only a key frame can start a segment (at the start, after a freeze or a restart).
      this.carry = [];
      return;
    }
    const length = segment ? segment.duration + (this.open?.duration ?? 0) : 0;
    if (this.keyFrameWanted && length >= this.o.segmentTarget * MIN_SEGMENT_FRACTION - KEY_FRAME_ASKED_BEFORE) {
      this.keyFrameWanted = false;
      this.o.onKeyFrameWanted!();
    }
    if (!segment || (span.sync && length >= this.o.segmentTarget * MIN_SEGMENT_FRACTION) || length + span.duration > this.maxSegment) {
      this.closeSegment();
      this.startSegment(span.start, span.sync);
    }
    if (this.open && this.open.frames > 0 && this.open.duration + span.duration > this.partTarget + EPSILON) {
      // A late frame would carry the part past its target: the part ends before it. Declared as
      // the target while longer, every part after it would start later in the media than in the
      // playlist, which players that lay parts out by their durations (Shaka) cannot follow. A
      // part must also last 85 % of the target unless it is its segment's last (rfc8216bis
      // §4.4.4.9; a key frame's part is not exempt): a shorter one ends its segment, and the late
      // frame starts the next.
      if (this.longEnoughPart()) this.closePart();
      else {
        this.closeSegment();
        this.startSegment(span.start, span.sync);
      }
    }
    const open = this.addToPart(data, span);
    // Complete when it holds its frames, or when one more frame of this length would not fit: it
    // is published with the next frame, without waiting to see whether that one would fit.
    const frame = span.samples > 0 ? span.duration / span.samples : 0;
    const full = open.frames >= this.framesPerPart || open.duration + frame > this.partTarget + EPSILON;
    if (full && this.longEnoughPart()) open.complete = true;
  }

  /**
   * Following: packages the held fragments the leader has decided about (it packaged a frame at
   * or after their time, or moved to a newer timeline); drops those it left undecided too long.
   */
  private release(): void {
    const now = this.o.now();
    while (this.following.length > 0) {
      const next = this.following[0]!;
      const span = next.timing[next.primary];
      // Where this frame sits on the leader's timeline.
      const at = span ? span.start - this.followOffset : 0;
      const { generation, start } = this.leaderProgress;
      const decided = !span || generation > next.generation || (generation === next.generation && start >= at - SAME_FRAME_SECONDS);
      const gap = this.leaderGap;
      const inGap = span && gap.generation === next.generation && at > gap.from + SAME_FRAME_SECONDS && at < gap.to - SAME_FRAME_SECONDS;
      if (!decided && (now - next.heldAt <= MAX_FOLLOW_HOLD_MS || this.o.follow!.holding)) return;
      this.following.shift();
      if (decided && !inGap) this.packageFollowing(next);
    }
  }

  /** A frame cut where the leader cut: parts end and segments start at the same media times. */
  private packageFollowing({ data, timing, primary, generation, keyFrame }: Held): void {
    const span = timing[primary];
    if (!span) return this.addOtherTrack(data, timing, primary);
    this.lastEnd = span.start + span.duration;
    this.cuts = this.cuts.filter((cut) => cut.generation >= generation);
    // A key frame of its own that is the one the leader's next segment starts with (the same
    // key frame of the timeline with sameFrames, else one close to where it starts): the two
    // timelines' offset is measured there, and the cut applied at it.
    const next = this.cuts.find((cut): cut is Extract<Cut, { kind: 'segment-start' }> => cut.generation === generation && cut.kind === 'segment-start');
    // (Under 0.6 of a frame, so that a neighbouring frame is never taken for it.)
    const window = Math.min(MAX_KEY_FRAME_OFFSET_SECONDS, 0.6 * (span.duration / Math.max(1, span.samples)));
    const drift = next ? Math.abs(span.start - this.followOffset - next.at) : Infinity;
    // With sameFrames, by number (only by number until the first match: the offset is unknown
    // before it; after it, within MAX_SAME_KEY_FRAME_DRIFT_SECONDS, so that a key frame counted
    // differently, an open GOP's, cannot move it by a whole GOP); else, or if the numbers went
    // apart (a decoder dropped a key frame), by time.
    const sameNumber = this.o.sameFrames === true && keyFrame !== null && keyFrame + this.keyFrameShift === next?.keyFrame && (!this.offsetMeasured || drift <= MAX_SAME_KEY_FRAME_DRIFT_SECONDS);
    const same = sameNumber || (span.sync && (this.offsetMeasured || !this.o.sameFrames) && drift <= window);
    if (same && next) {
      this.followOffset = span.start - next.at;
      this.offsetMeasured = true;
      if (keyFrame !== null && next.keyFrame !== null) this.keyFrameShift = next.keyFrame - keyFrame;
      // Every cut up to its segment's start applies before it, however they were timed.
      let cut: Cut;
      do {
        cut = this.cuts.shift()!;
        this.applyCut(cut, span.start);
      } while (cut !== next);
    }
    const leaderTime = span.start - this.followOffset;
    while (this.cuts[0] && this.cuts[0].generation === generation && leaderTime >= this.cuts[0].at - this.cutTolerance(this.cuts[0])) {
      this.applyCut(this.cuts.shift()!, span.start);
    }
    if (!this.openSegment()) {
      // Before the leader's first segment (of this timeline) there is nothing to add to.
      this.carry = [];
      return;
    }
    if (this.open?.complete) this.closePart();
    const open = this.addToPart(data, span);
    // The leader's part (or segment) that ends with this frame: complete now, published with the
    // next frame (a segment closes at the leader's next segment start).
    while (this.cuts[0] && this.cuts[0].kind !== 'segment-start' && this.cuts[0].generation === generation && this.lastEnd - this.followOffset >= this.cuts[0].at - SAME_FRAME_SECONDS) {
      this.cuts.shift();
      open.complete = true;
    }
  }

  /**
   * How far before a cut a follower's frame (on the leader's timeline) may start and still have
   * the cut applied before it. With sameFrames, a segment that the leader starts with a key frame
   * waits for this rendition's own key frame of that number (see MAX_SAME_KEY_FRAME_DRIFT_SECONDS):
   * cut at its time, a rung whose frames run late would start the segment a frame early, without
   * one. The segment before it stays open until then (its last part ends where the leader's does).
   */
  private cutTolerance(cut: Cut): number {
    const waitsForKeyFrame = this.o.sameFrames === true && this.offsetMeasured && ((cut.kind === 'segment-start' && cut.keyFrame !== null) || cut.kind === 'segment-end');
    return waitsForKeyFrame ? -MAX_SAME_KEY_FRAME_DRIFT_SECONDS : SAME_FRAME_SECONDS;
  }

  /** Applies one of the leader's cuts before (or, for an end, after) the frame starting at `start`. */
  private applyCut(cut: Cut, start: number): void {
    if (cut.kind !== 'segment-start') return cut.kind === 'part-end' ? this.closePart() : this.closeSegment();
    this.closeSegment();
    this.pendingDiscontinuity ||= cut.discontinuity;
    this.nextMsn = cut.msn;
    // The leader's date, moved by how far this rendition's first frame is from the leader's.
    this.startSegment(start, true, Math.round(cut.programDateTime + (start - this.followOffset - cut.at) * 1000));
  }

  /**
   * Samples of the other track only: they go with the part being built, or the next one. A
   * complete part waits for the next frame; when the primary track stalls (a frozen camera)
   * FFmpeg goes on writing the other alone (after its interleaving delay, 0.5 s), and once that
   * is a part target past the part's end, the part is published without waiting any longer.
   */
  private addOtherTrack(data: Buffer, timing: FragmentTiming, primary: 'video' | 'audio'): void {
    const other = timing[primary === 'video' ? 'audio' : 'video'];
    if (this.open?.complete && other && other.start >= this.open.end + this.partTarget) this.closePart();
    (this.open?.chunks ?? this.carry).push(data);
  }

  /** Adds a frame to the part being built, opening it if none is. */
  private addToPart(data: Buffer, span: TrackSpan): NonNullable<LlPackager['open']> {
    // Audio that came after the last part closed opens this one: moved after this fragment, it
    // would follow the audio this fragment carries, later in time (a track going backwards).
    const open = (this.open ??= { chunks: this.carry, duration: 0, frames: 0, independent: span.sync, end: span.start, complete: false });
    if (open.chunks === this.carry) this.carry = [];
    open.chunks.push(data);
    open.duration += span.duration;
    open.frames += span.samples;
    open.end = span.start + span.duration;
    return open;
  }

  /** rfc8216bis §4.4.4.9: a part that is not its segment's last lasts 85 % of the target, as written (a 0.178 part failed a 0.21 target). */
  private longEnoughPart(): boolean {
    return this.open !== null && round3(this.open.duration) >= 0.85 * this.partTarget;
  }

  /** The stream ended: the last part and segment are closed; the playlist gets EXT-X-ENDLIST. */
  end(): void {
    if (this.ended) return;
    this.unfollow?.();
    this.following = [];
    this.flushHeld();
    this.closeSegment();
    // An empty last segment (started, nothing in it) is not listed.
    const last = this.segmentList.at(-1);
    if (last && last.data === null) this.segmentList.pop();
    this.ended = true;
    this.emit();
  }

  private openSegment(): Segment | null {
    const last = this.segmentList.at(-1);
    return last && last.data === null ? last : null;
  }

  /**
   * `sync`: it starts with a key frame (only a leader asks; a follower passes true, its cuts are the leader's).
   * `programDateTime`: a follower's, from the leader's (a leader's comes from its timeline's anchor).
   */
  private startSegment(mediaStart: number, sync: boolean, programDateTime?: number): Segment {
    // Only a source that can be asked is (an encoder sends its next key frame when it will).
    this.keyFrameWanted = !sync && this.o.onKeyFrameWanted !== undefined;
    const date = programDateTime ?? this.dateOf(mediaStart);
    if (!this.o.follow) this.emitCut({ generation: this.generation, at: mediaStart, kind: 'segment-start', msn: this.nextMsn, discontinuity: this.pendingDiscontinuity, programDateTime: date, keyFrame: sync ? this.keyFrames - 1 : null });
    const segment: Segment = {
      msn: this.nextMsn++,
      name: `seg_${this.nextMsn - 1}.m4s`,
      init: this.currentInit!,
      programDateTime: date,
      discontinuity: this.pendingDiscontinuity,
      parts: [],
      duration: 0,
      data: null,
    };
    this.pendingDiscontinuity = false;
    this.segmentList.push(segment);
    return segment;
  }

  /** The wall-clock date of a media time on the timeline being packaged. */
  private dateOf(mediaTime: number): number {
    if (!this.anchor) throw new Error('LlPackager: a segment started before its timeline was dated');
    return Math.round(this.anchor.wall + (mediaTime - this.anchor.media) * 1000);
  }

  private closePart(): void {
    const segment = this.openSegment();
    const open = this.open;
    this.open = null;
    if (!segment || !open || open.chunks.length === 0) return;
    segment.parts.push({ name: partName(this.nextPartId++), duration: open.duration, independent: open.independent, data: Buffer.concat(open.chunks) });
    segment.duration += open.duration;
    this.lastPartEnd = open.end;
    if (!this.o.follow) this.emitCut({ generation: this.generation, at: open.end, kind: 'part-end' });
    this.emit();
  }

  private emitCut(cut: Cut): void {
    for (const listener of [...this.cutListeners]) listener(cut);
  }

  private closeSegment(): void {
    this.closePart();
    const segment = this.openSegment();
    if (!segment) return;
    if (segment.parts.length === 0) {
      // Nothing was added: forget it (its number is reused).
      this.segmentList.pop();
      this.nextMsn--;
      return;
    }
    // One buffer per segment; its parts become views of it (no copy kept twice).
    const data = Buffer.concat(segment.parts.map((p) => p.data));
    let offset = 0;
    for (const part of segment.parts) {
      part.data = data.subarray(offset, offset + part.data.length);
      offset += part.data.length;
    }
    segment.data = data;
    const end = this.lastPartEnd;
    if (!this.o.follow && end !== null) this.emitCut({ generation: this.generation, at: end, kind: 'segment-end' });
    this.trim();
    this.emit();
  }

  /** Drops the oldest segments while the window stays long enough; they stay fetchable for their duration plus the playlist's. */
  private trim(): void {
    const now = this.o.now();
    for (const [name, kept] of this.removed) if (kept.until <= now) this.removed.delete(name);
    const complete = () => this.segmentList.filter((s) => s.data !== null);
    let total = complete().reduce((sum, s) => sum + s.duration, 0);
    while (this.segmentList.length > 1 && this.segmentList[0]!.data !== null && total - this.segmentList[0]!.duration >= this.minWindow) {
      const oldest = this.segmentList.shift()!;
      total -= oldest.duration;
      if (this.segmentList[0]?.discontinuity) this.discontinuitySequence++;
      const until = now + (oldest.duration + total) * 1000;
      this.removed.set(oldest.name, { data: oldest.data!, until });
      for (const part of oldest.parts) this.removed.set(part.name, { data: part.data, until });
    }
    // Init segments no segment refers to any more go with the last segment that did.
    for (const name of this.inits.keys()) {
      if (name !== this.currentInit && !this.segmentList.some((s) => s.init === name)) {
        this.removed.set(name, { data: this.inits.get(name)!, until: now + total * 1000 });
        this.inits.delete(name);
      }
    }
  }

  private emit(): void {
    for (const listener of [...this.listeners]) listener();
  }
}

export const partName = (id: number): string => `part_${id}.m4s`;

interface Anchor {
  media: number;
  wall: number;
}

interface FormingAnchor extends Anchor {
  /** Fragments in a row that moved it by less than ANCHOR_QUIET_MS. */
  quiet: number;
  settled: boolean;
}
