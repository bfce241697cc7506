import { CLOCK_FRAME, paintClock } from './clock-code';

/**
 * One beep of the test source (see createTestSource's `beeps`). Wall clocks are ms since the
 * epoch on Date.now()'s scale, with the sub-millisecond part (performance.now()'s resolution).
 */
export interface Beep {
  /** AudioContext time of the beep's first sample, s (a whole sample frame). */
  contextTime: number;
  /**
   * When that sample was delivered to the stream's audio track: the first poll of
   * `AudioContext.currentTime` that saw the renderer past it. Chromium stamps audio taken from a
   * MediaStreamAudioDestinationNode with the time it was rendered, so this is the wall clock the
   * beep's audio carries into WebRTC; the renderer works in bursts and runs late when the
   * machine is loaded, so it strays from the sample clock (see bench/av-analysis.ts beepClock).
   */
  wall: number;
  /** The poll before it (renderer not yet past): the delivery happened in (notBefore, wall]. */
  notBefore: number;
  /**
   * When getOutputTimestamp() says the sample is played out on the output device, same scale:
   * a steady clock (±1 ms whatever the load) but late by the device's output latency, which
   * the stream never sees; the analysis calibrates it against the on-time deliveries. Null if
   * the context gave no output timestamp.
   */
  played: number | null;
}

export interface TestSourceOptions {
  /**
   * A short loud 1 kHz beep every second over the quiet tone, with the wall clock of each beep's
   * delivery kept in `window.__beeps` (the A/V sync measurement, e2e/av-sync.ts); off by
   * default: a beep a second is no demo.
   */
  beeps?: boolean;
}

declare global {
  interface Window {
    /** Only with the test source's `beeps`: one entry per beep delivered so far. */
    __beeps?: Beep[];
  }
}

const BEEP = { periodSeconds: 1, seconds: 0.04, frequency: 1000, gain: 0.5, scheduleAheadSeconds: 1.5 };
/** Polling for a beep's delivery starts this long before it is expected, ms (renderer bursts are ~10–20 ms). */
const WATCH_LEAD_MS = 40;
/** A beep not seen delivered this long after it was expected (context suspended, tab frozen) is not recorded. */
const WATCH_GIVE_UP_MS = 1000;

/**
 * A synthetic camera + microphone: a canvas with moving content and the sender's clock strip
 * (see clock-code.ts), and a quiet tone (with `beeps`, a beep every second). Used to measure
 * latency and A/V sync, and to demo without a camera.
 */
export function createTestSource(fps = 30, options: TestSourceOptions = {}): { stream: MediaStream; stop(): void } {
  const { width, height } = CLOCK_FRAME;
  const canvas = document.createElement('canvas');
  canvas.width = width;
  canvas.height = height;
  const ctx = canvas.getContext('2d')!;
  let frame = 0;
  const draw = () => {
    frame++;
    ctx.fillStyle = '#1d2b53';
    ctx.fillRect(0, 0, width, height);
    // Something that moves, so the encoder produces realistic frames.
    const x = (frame * 4) % width;
    ctx.fillStyle = '#ff004d';
    ctx.fillRect(x, height / 2 - 40, 80, 80);
    ctx.fillStyle = '#fff';
    ctx.font = '28px monospace';
    ctx.fillText(new Date().toISOString().slice(11, 23), 20, height - 30);
    paintClock(ctx, width, Date.now());
  };
  draw();
  // setInterval rather than requestAnimationFrame: it keeps running in background tabs.
  const timer = setInterval(draw, 1000 / fps);
  const video = canvas.captureStream(fps);

  const audio = new AudioContext();
  const tone = audio.createOscillator();
  const gain = audio.createGain();
  gain.gain.value = 0.05;
  tone.frequency.value = 440;
  const out = audio.createMediaStreamDestination();
  tone.connect(gain).connect(out);
  tone.start();
  const stopBeeps = options.beeps ? startBeeps(audio, out) : () => undefined;

  const stream = new MediaStream([...video.getVideoTracks(), ...out.stream.getAudioTracks()]);
  return {
    stream,
    stop() {
      clearInterval(timer);
      stopBeeps();
      stream.getTracks().forEach((t) => t.stop());
      void audio.close();
    },
  };
}

/**
 * Schedules a beep every BEEP.periodSeconds on the context's timeline (sample-accurate: an
 * oscillator started and stopped at whole sample frames, from phase 0) and watches for the
 * delivery of each one's first sample; records them in window.__beeps.
 */
function startBeeps(audio: AudioContext, out: AudioNode): () => void {
  const beeps: Beep[] = [];
  window.__beeps = beeps;
  const level = audio.createGain();
  level.gain.value = BEEP.gain;
  level.connect(out);
  const frame = (t: number) => Math.ceil(t * audio.sampleRate) / audio.sampleRate;
  let next: number | null = null;
  let stopped = false;
  const timers = new Set<ReturnType<typeof setTimeout>>();

  const schedule = () => {
    // A suspended context (no user gesture yet) does not advance: beeps wait for it.
    if (audio.state !== 'running') return;
    next ??= frame(audio.currentTime + 0.5);
    while (next < audio.currentTime + BEEP.scheduleAheadSeconds) {
      const at = next;
      const osc = audio.createOscillator();
      osc.frequency.value = BEEP.frequency;
      osc.connect(level);
      osc.start(at);
      osc.stop(frame(at + BEEP.seconds));
      osc.onended = () => osc.disconnect();
      // Poll from a little before the beep is due; the context's clock runs at the wall clock's pace.
      const dueIn = (at - audio.currentTime) * 1000 - WATCH_LEAD_MS;
      const t = setTimeout(() => {
        timers.delete(t);
        void watchDelivery(audio, at, () => stopped).then((beep) => beep && beeps.push(beep));
      }, Math.max(0, dueIn));
      timers.add(t);
      next = frame(at + BEEP.periodSeconds);
    }
  };
  schedule();
  const scheduler = setInterval(schedule, 250);
  return () => {
    stopped = true;
    clearInterval(scheduler);
    timers.forEach(clearTimeout);
  };
}

/**
 * Polls `audio.currentTime` as often as the page can (a MessageChannel loop: no timer clamping)
 * until the renderer is past `contextTime`; null if that does not happen in time.
 */
function watchDelivery(audio: AudioContext, contextTime: number, cancelled: () => boolean): Promise<Beep | null> {
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    const wallNow = () => performance.timeOrigin + performance.now();
    // Date.now() is the wall clock floored to the ms: right after it ticks it equals the true
    // wall clock, so the largest Date.now() − wallNow() over the polls is their offset (<0.1 ms).
    let skew = -Infinity;
    let notBefore = wallNow();
    const giveUpAt = notBefore + WATCH_LEAD_MS + WATCH_GIVE_UP_MS;
    const finish = (beep: Beep | null) => {
      channel.port1.close();
      resolve(beep);
    };
    channel.port1.onmessage = () => {
      const seen = audio.currentTime;
      const wall = wallNow();
      skew = Math.max(skew, Date.now() - wall);
      if (seen > contextTime) {
        const o = audio.getOutputTimestamp();
        // Before the device has played anything, the timestamp is zeros.
        const played = o.contextTime && o.performanceTime ? performance.timeOrigin + o.performanceTime + (contextTime - o.contextTime) * 1000 + skew : null;
        finish({ contextTime, wall: wall + skew, notBefore: notBefore + skew, played });
        return;
      }
      notBefore = wall;
      if (cancelled() || wall > giveUpAt) finish(null);
      else channel.port2.postMessage(null);
    };
    channel.port2.postMessage(null);
  });
}
