import type { types } from 'mediasoup';
import type { TransportOptions } from '../../../protocol/index.js';

export interface WebRtcListenSettings {
  listenIp: string;
  announcedAddress?: string;
  rtcMinPort: number;
  rtcMaxPort: number;
}

/** A WebRTC transport on the configured address and port range: UDP preferred, TCP as fallback. */
export function createWebRtcTransport(
  router: types.Router,
  settings: WebRtcListenSettings,
  appData: Record<string, unknown>,
): Promise<types.WebRtcTransport> {
  const { listenIp, announcedAddress, rtcMinPort, rtcMaxPort } = settings;
  const portRange = { min: rtcMinPort, max: rtcMaxPort };
  return router.createWebRtcTransport({
    listenInfos: [
      { protocol: 'udp', ip: listenIp, announcedAddress, portRange },
      { protocol: 'tcp', ip: listenIp, announcedAddress, portRange },
    ],
    initialAvailableOutgoingBitrate: 1_000_000,
    appData,
  });
}

/** What the browser's mediasoup-client needs to build its side of the transport. */
export function transportOptions(transport: types.WebRtcTransport): TransportOptions {
  return {
    id: transport.id,
    iceParameters: transport.iceParameters,
    iceCandidates: transport.iceCandidates,
    dtlsParameters: transport.dtlsParameters,
  };
}
