import { CLOCK_FRAME, paintClock } from './clock-code';

/**
 * A synthetic camera + microphone: a canvas with moving content and the sender's clock strip
 * (see clock-code.ts), and a quiet tone. Used to measure latency and to demo without a camera.
 */
export function createTestSource(fps = 30): { stream: MediaStream; stop(): void } {
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

  const stream = new MediaStream([...video.getVideoTracks(), ...out.stream.getAudioTracks()]);
  return {
    stream,
    stop() {
      clearInterval(timer);
      stream.getTracks().forEach((t) => t.stop());
      void audio.close();
    },
  };
}
