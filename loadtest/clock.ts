/** The generator's one clock (ms, sub-millisecond): send times in message texts, deliveries, rejoins. */
export const now = () => performance.timeOrigin + performance.now();
