export { ChatConnection } from "./ChatConnection";
export type { ConnectionEvents, ConnectionOptions } from "./connectionTypes";
export { ChatError, isTransient } from "./errors";
export { backoffDelay, DEFAULT_BACKOFF, type BackoffOptions } from "./backoff";
export { SeqDelivery, windowHasGap } from "./delivery";
export * from "./protocol";
