import type { HookName, RoomContext, RoomHooks } from "../conversation/context";
import { logger } from "../server/logger";
import { metrics } from "../server/metrics";

/**
 * The fan-out of a room's named hooks to its extensions, in order. A failing
 * extension is logged and skipped: side effects never break a chat.
 */
export function fireHook(room: RoomContext, extensions: readonly RoomHooks[], hook: HookName, args: unknown[]) {
  for (const extension of extensions) {
    const fn = extension[hook] as ((room: RoomContext, ...rest: unknown[]) => void) | undefined;
    if (!fn) { continue; }
    try {
      fn.call(extension, room, ...args);
    } catch (err) {
      logger.error({ err, roomId: room.roomId, hook }, "room hook failed");
    }
  }
}

/** Prometheus gauges and counters of rooms, conversations and messages. */
export const metricsHooks: RoomHooks = {
  onActorStarted: (room) => metrics.rooms.inc({ kind: room.kind }),
  onActorDisposed: (room) => {
    metrics.rooms.dec({ kind: room.kind });
    if (room.state.conversation && room.state.conversation.status !== "ended") { metrics.activeConversations.dec(); }
  },
  onConversationStarted: () => metrics.activeConversations.inc(),
  onConversationResumed: () => metrics.activeConversations.inc(),
  onConversationEnded: () => metrics.activeConversations.dec(),
  afterMessageStored: (_room, message) => metrics.messages.inc({ kind: message.kind }),
};

/**
 * Webhooks: the events are already in the room's outbox, written with their
 * records (server/webhooks/events.ts); this only has them delivered at once.
 */
export const webhookHooks: RoomHooks = {
  onConversationStarted: (room) => room.services.webhooks.written(room.roomId),
  afterMessageStored: (room) => room.services.webhooks.written(room.roomId),
  onConversationEnded: (room) => room.services.webhooks.written(room.roomId),
};
