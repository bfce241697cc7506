import { CLOCK_FRAME, clockLatencyMs, readClock } from './clock-code';

export interface LatencySample {
  /** Glass-to-glass: the publisher's clock painted in the frame vs this page's clock. */
  ms: number;
  at: number;
}

/**
 * Reads the clock strip from every frame the video presents (requestVideoFrameCallback) and
 * reports glass-to-glass latency. Only meaningful for streams published with the test source on
 * the same machine (same wall clock).
 */
export function probeLatency(video: HTMLVideoElement, onSample: (sample: LatencySample) => void): () => void {
  const canvas = document.createElement('canvas');
  const ctx = canvas.getContext('2d', { willReadFrequently: true })!;
  let handle = 0;
  let stopped = false;
  const onFrame = () => {
    if (stopped) return;
    if (video.videoWidth > 0) {
      const now = Date.now();
      // The receiver may get a scaled-down picture (WebRTC adapts resolution): scale it back.
      canvas.width = CLOCK_FRAME.width;
      canvas.height = CLOCK_FRAME.height;
      ctx.drawImage(video, 0, 0, CLOCK_FRAME.width, CLOCK_FRAME.height);
      const reading = readClock(ctx, CLOCK_FRAME.width);
      if (reading !== null) {
        const ms = clockLatencyMs(reading, now);
        if (ms < 60_000) onSample({ ms, at: now });
      }
    }
    handle = video.requestVideoFrameCallback(onFrame);
  };
  handle = video.requestVideoFrameCallback(onFrame);
  return () => {
    stopped = true;
    video.cancelVideoFrameCallback(handle);
  };
}
