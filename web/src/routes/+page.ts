// The directory is live data over Socket.IO; there is nothing useful to render on the server.
export const ssr = false;
