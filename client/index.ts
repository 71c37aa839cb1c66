export { ChatConnection, type ConnectionEvents, type ConnectionOptions } from "./ChatConnection";
export { ChatError, isTransient } from "./errors";
export { backoffDelay, DEFAULT_BACKOFF, type BackoffOptions } from "./backoff";
export { SeqDelivery, windowHasGap } from "./delivery";
export * from "./protocol";
