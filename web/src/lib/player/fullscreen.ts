/**
 * Full screen for the player's frame, so that the controls come along. iPhone Safari has no
 * element full screen, only the video's own native player: there, that is what is used.
 */
export function canFullscreen(video: HTMLVideoElement): boolean {
  return document.fullscreenEnabled || 'webkitEnterFullscreen' in video;
}

export async function toggleFullscreen(frame: HTMLElement, video: HTMLVideoElement): Promise<void> {
  if (document.fullscreenElement) return document.exitFullscreen();
  if (document.fullscreenEnabled) return frame.requestFullscreen();
  if ('webkitEnterFullscreen' in video && typeof video.webkitEnterFullscreen === 'function') video.webkitEnterFullscreen();
}
