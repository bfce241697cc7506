import type { PageLoad } from './$types';

// Socket.IO and hls.js only run in the browser.
export const ssr = false;

export const load: PageLoad = ({ params }) => ({ channelId: params.channelId });
