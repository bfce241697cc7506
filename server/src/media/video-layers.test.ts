import { describe, expect, it } from 'vitest';
import { preferredSpatialLayer, videoLayers } from './video-layers.js';

const h264 = [{ mimeType: 'video/H264', payloadType: 102, clockRate: 90000 }];

describe('videoLayers', () => {
  it('names simulcast layers by height from the camera frame, lowest first', () => {
    const encodings = [{ rid: 'r0', scaleResolutionDownBy: 4 }, { rid: 'r1', scaleResolutionDownBy: 2 }, { rid: 'r2', scaleResolutionDownBy: 1 }];
    expect(videoLayers({ codecs: h264, encodings }, { width: 1280, height: 720 })).toEqual([
      { spatialLayer: 0, height: 180 },
      { spatialLayer: 1, height: 360 },
      { spatialLayer: 2, height: 720 },
    ]);
  });

  it('has no height without the frame size, and no layers for a single encoding', () => {
    expect(videoLayers({ codecs: h264, encodings: [{ rid: 'a' }, { rid: 'b' }] }, null)).toEqual([
      { spatialLayer: 0, height: null },
      { spatialLayer: 1, height: null },
    ]);
    expect(videoLayers({ codecs: h264, encodings: [{ ssrc: 1 }] }, { width: 640, height: 480 })).toEqual([]);
    expect(videoLayers({ codecs: h264 }, null)).toEqual([]);
  });
});

describe('preferredSpatialLayer', () => {
  const layers = [0, 1, 2].map((spatialLayer) => ({ spatialLayer, height: null }));
  it('is the top layer for auto, the chosen one otherwise, never above the top', () => {
    expect(preferredSpatialLayer(layers, 'auto')).toBe(2);
    expect(preferredSpatialLayer(layers, 0)).toBe(0);
    expect(preferredSpatialLayer(layers, 7)).toBe(2);
    expect(preferredSpatialLayer([], 'auto')).toBe(0);
  });
});
