/** A request that is wrong for the channel's current state; the message is shown to the user. */
export class ChannelError extends Error {}
