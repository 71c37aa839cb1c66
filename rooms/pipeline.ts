import type { MessageContext, Room } from "@colyseus/core";
import { data, who, type ChatClient } from "../conversation/context";
import type { Config } from "../server/config";
import { ChatError, RequestError } from "../server/errors";
import { logger } from "../server/logger";
import { metrics } from "../server/metrics";
import { may } from "../server/policy/permissions";
import type { RequestSpec, RequestTable } from "../server/policy/requestTable";
import { parseRequest, type RequestType } from "../server/policy/requests";

/**
 * The one request pipeline (validate -> permit -> limit -> run) over a room's
 * request table (server/policy/requestTable.ts). Payloads are validated here, not
 * by Colyseus' `validate`, whose failure on a plain `send` disconnects the client:
 * every failure becomes a rejection `{ code, message }` and the connection stays.
 */
export function registerRequests<R extends Room>(room: R, table: RequestTable<R, ChatClient>, config: Pick<Config, "maxRequestBytes" | "messagesPerSecond">) {
  for (const type of Object.keys(table) as RequestType[]) {
    const spec = table[type] as RequestSpec<R, ChatClient, RequestType>;
    room.onMessage(type, async (client: ChatClient, raw: unknown, ctx: MessageContext) => {
      const timer = metrics.requests.startTimer({ type });
      try {
        // validate
        if (payloadBytes(raw) > config.maxRequestBytes) {
          throw new RequestError("payload_too_large", `${type}: payload over ${config.maxRequestBytes} bytes`);
        }
        let payload = parseRequest(type, raw);
        if (spec.check) { payload = spec.check(payload, room); }
        // permit
        const identity = who(client);
        if (spec.action && !may(identity, spec.action)) {
          throw new RequestError("forbidden", `${type}: not allowed for ${identity.role}`);
        }
        const call = { room, client, identity, payload };
        spec.guard?.(call);
        // limit
        if (spec.limited && !data(client).bucket.take()) {
          throw new RequestError("rate_limited", `more than ${config.messagesPerSecond} messages per second`);
        }
        // run
        const answer = await spec.run(call);
        timer({ outcome: "ok" });
        return answer;
      } catch (e) {
        const reason = e instanceof ChatError ? e.toReason() : internalReason(e, room.roomId, type);
        timer({ outcome: reason.code });
        if (ctx?.id === undefined) { client.send("error", { type, ...reason }); return; }
        return ctx.reject(reason);
      }
    });
  }
  // unknown types: a request gets Colyseus' own "no_handler" error; a plain send gets this
  room.onMessage("*", (client: ChatClient, type: string | number) => {
    client.send("error", { code: "unknown_request", message: `unknown message type "${String(type).slice(0, 64)}"` });
  });
}

/** Size of a decoded payload; a structure too deep to serialise counts as too large. */
function payloadBytes(raw: unknown): number {
  try {
    return Buffer.byteLength(JSON.stringify(raw) ?? "");
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}

function internalReason(e: unknown, roomId: string, type: string) {
  logger.error({ err: e, roomId, request: type }, "request failed");
  return { code: "internal", message: "internal error" };
}
