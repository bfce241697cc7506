import type { types } from 'mediasoup';
import type { TransportOptions } from '../../../protocol/index.js';
import type { Config } from '../config.js';

/** Where WebRTC and pipe transports listen, as configured (RTC_* variables). */
export type WebRtcSettings = Config['rtc'];

/** A WebRTC transport on the configured address and port range: UDP preferred, TCP as fallback. */
export function createWebRtcTransport(
  router: types.Router,
  settings: WebRtcSettings,
  appData: Record<string, unknown>,
): Promise<types.WebRtcTransport> {
  const { listenIp, announcedAddress, minPort, maxPort } = settings;
  const portRange = { min: minPort, max: maxPort };
  return router.createWebRtcTransport({
    listenInfos: [
      { protocol: 'udp', ip: listenIp, announcedAddress, portRange },
      { protocol: 'tcp', ip: listenIp, announcedAddress, portRange },
    ],
    initialAvailableOutgoingBitrate: settings.initialBitrate,
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
