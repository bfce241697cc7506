// Camera, WebRTC and Socket.IO only exist in the browser.
export const ssr = false;
