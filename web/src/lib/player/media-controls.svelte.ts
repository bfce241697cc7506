import { canFullscreen, toggleFullscreen } from './fullscreen';
import type { PlayerAction } from './shortcuts';

/** Events after which the video's playing, sound or picture may differ from what is shown. */
const MEDIA_EVENTS = ['play', 'pause', 'playing', 'emptied', 'loadedmetadata', 'resize', 'volumechange', 'enterpictureinpicture', 'leavepictureinpicture'];

/**
 * The player's controls over one <video> in its frame. The video element is the one source of
 * truth: whoever changed it (these controls, the viewer's autoplay fallback, the browser's own
 * media keys or PiP window), its events bring the state shown back in line.
 */
export class MediaControls {
  paused = $state(true);
  muted = $state(false);
  volume = $state(1);
  fullscreen = $state(false);
  pictureInPicture = $state(false);
  /** Whether there is media to play: none while a stream is being (re)connected. */
  hasMedia = $state(false);
  /** Picture-in-picture needs the video's dimensions. */
  hasPicture = $state(false);
  /** Whether the viewer has muted, unmuted or set the volume: then the sound is theirs to decide. */
  soundChosen = $state(false);
  readonly canFullscreen: boolean;
  readonly canPictureInPicture: boolean;

  constructor(
    private readonly video: HTMLVideoElement,
    private readonly frame: HTMLElement,
  ) {
    this.canFullscreen = canFullscreen(video);
    this.canPictureInPicture = document.pictureInPictureEnabled && !video.disablePictureInPicture;
    for (const name of MEDIA_EVENTS) video.addEventListener(name, this.sync);
    document.addEventListener('fullscreenchange', this.sync);
    this.sync();
  }

  destroy(): void {
    for (const name of MEDIA_EVENTS) this.video.removeEventListener(name, this.sync);
    document.removeEventListener('fullscreenchange', this.sync);
  }

  togglePlay(): void {
    // A rejected play() (no media yet, or autoplay rules) leaves the video paused, which is shown.
    if (this.video.paused) void this.video.play().catch(() => undefined);
    else this.video.pause();
  }

  toggleMute(): void {
    this.soundChosen = true;
    const video = this.video;
    video.muted = !video.muted;
    // Unmuting at volume zero would still be silent.
    if (!video.muted && video.volume === 0) video.volume = 1;
  }

  setVolume(volume: number): void {
    this.soundChosen = true;
    this.video.volume = volume;
    this.video.muted = volume === 0;
  }

  toggleFullscreen(): void {
    toggleFullscreen(this.frame, this.video).catch((error: unknown) => console.warn('livecast: full screen refused', error));
  }

  togglePictureInPicture(): void {
    const change: Promise<unknown> = document.pictureInPictureElement === this.video ? document.exitPictureInPicture() : this.video.requestPictureInPicture();
    change.catch((error: unknown) => console.warn('livecast: picture-in-picture refused', error));
  }

  perform(action: PlayerAction): void {
    if (action === 'toggle-play') this.togglePlay();
    else if (action === 'toggle-mute') this.toggleMute();
    else if (this.canFullscreen) this.toggleFullscreen();
  }

  private readonly sync = (): void => {
    const video = this.video;
    this.paused = video.paused;
    this.muted = video.muted;
    this.volume = video.volume;
    this.hasMedia = video.readyState >= HTMLMediaElement.HAVE_METADATA;
    this.hasPicture = this.hasMedia && video.videoWidth > 0;
    this.fullscreen = document.fullscreenElement === this.frame;
    this.pictureInPicture = document.pictureInPictureElement === video;
  };
}
