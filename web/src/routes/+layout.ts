// Every page needs the browser (camera, WebRTC, Socket.IO, hls.js), and so does the error page.
// This must be said here, at the root, and not only on each page: SvelteKit leaves the root
// layout's server component out of the build when every page has `ssr = false`, but renders an
// unknown URL's 404 with the root layout's own setting, which was SSR on. Rendering the missing
// component threw ("Missing +page.svelte component for route null"), so every unknown URL
// answered 500 and printed a stack trace. With SSR off at the root, a 404 is the app shell with
// status 404 and +error.svelte renders in the browser.
export const ssr = false;
