import { io as connect, type Socket } from 'socket.io-client';

/** A Socket.IO client of its own connection, for tests that act as one hostile or plain client. */
export function openSocket(url: string, path: string, options: { auth?: object; headers?: Record<string, string> } = {}): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(`${url}${path}`, {
      auth: options.auth,
      extraHeaders: options.headers,
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
    });
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', (error) => {
      socket.close();
      reject(error);
    });
  });
}

/** Sends one request and resolves with its ack (a result or `{ error }`). */
export function request<T = Record<string, unknown>>(socket: Socket, event: string, payload: object = {}): Promise<T> {
  return socket.timeout(10_000).emitWithAck(event, payload) as Promise<T>;
}

/** What a scripted broadcaster with no media sends: plausible parameters, a made-up DTLS fingerprint. */
export const fakeDtls = {
  role: 'client',
  fingerprints: [{ algorithm: 'sha-256', value: Array.from({ length: 32 }, () => 'AB').join(':') }],
};
export const fakeOpus = {
  mid: '0',
  codecs: [{ mimeType: 'audio/opus', payloadType: 111, clockRate: 48000, channels: 2, parameters: {}, rtcpFeedback: [] }],
  headerExtensions: [],
  encodings: [{ ssrc: 1111 }],
  rtcp: { cname: 'squatter' },
};
export const fakeH264 = {
  mid: '1',
  codecs: [{
    mimeType: 'video/H264',
    payloadType: 102,
    clockRate: 90000,
    parameters: { 'packetization-mode': 1, 'profile-level-id': '42e01f', 'level-asymmetry-allowed': 1 },
    rtcpFeedback: [],
  }],
  headerExtensions: [],
  encodings: [{ ssrc: 2222 }],
  rtcp: { cname: 'squatter' },
};
