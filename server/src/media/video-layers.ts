import type { types } from 'mediasoup';
import type { FrameSize, VideoLayer } from '../../../protocol/index.js';

/**
 * The simulcast layers of a video producer, lowest first (mediasoup's spatial layer i is
 * encoding i: mediasoup-client and WHIP offers list the smallest first). Each layer's height is
 * the camera's divided by its `scaleResolutionDownBy`, when the broadcaster said its frame size.
 * One encoding is no choice at all: no layers.
 */
export function videoLayers(parameters: types.RtpParameters, frameSize: FrameSize | null): VideoLayer[] {
  const encodings = parameters.encodings ?? [];
  if (encodings.length < 2) return [];
  return encodings.map((encoding, spatialLayer) => ({
    spatialLayer,
    height: frameSize ? Math.round(frameSize.height / (encoding.scaleResolutionDownBy ?? 1)) : null,
  }));
}

/** The spatial layer a quality choice asks mediasoup for ('auto': the top one, lowered by bandwidth). */
export function preferredSpatialLayer(layers: readonly VideoLayer[], choice: 'auto' | number): number {
  const top = Math.max(0, layers.length - 1);
  return choice === 'auto' ? top : Math.min(choice, top);
}
