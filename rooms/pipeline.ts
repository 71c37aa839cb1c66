import type { MessageContext, Room } from "@colyseus/core";
import { who, type ChatClient } from "../conversation/context";
import type { Config } from "../server/config";
import { ChatError, RequestError } from "../server/errors";
import { logger } from "../server/logger";
import { metrics } from "../server/metrics";
import { refusalOf } from "../server/policy/admission";
import { budgetClassOf, type UserBudgets } from "../server/policy/budgets";
import { closeIfSlowReader, enterRequest, isClosing, leaveRequest } from "../server/policy/connectionGuard";
import { may } from "../server/policy/permissions";
import type { RequestSpec, RequestTable } from "../server/policy/requestTable";
import { parseRequest, type RequestType } from "../server/policy/requests";

type PipelineConfig = Parameters<typeof refusalOf>[4] & Pick<Config, "maxRequestBytes" | "maxBufferedBytes">;

/**
 * The one request pipeline (admit -> validate -> permit -> run) over a room's
 * request table (server/policy/requestTable.ts). Admission comes before any work, so
 * a flood is refused at the cost of a bucket check; payloads are validated here, not
 * by Colyseus' `validate`, whose failure on a plain `send` disconnects the client:
 * every failure becomes a rejection `{ code, message }` and the connection stays.
 */
export function registerRequests<R extends Room>(room: R, table: RequestTable<R, ChatClient>, config: PipelineConfig, budgets: UserBudgets) {
  for (const type of Object.keys(table) as RequestType[]) {
    const spec = table[type] as RequestSpec<R, ChatClient, RequestType>;
    room.onMessage(type, async (client: ChatClient, raw: unknown, ctx: MessageContext) => {
      // admit: the send buffer, the in-flight cap, the user's budget
      if (closeIfSlowReader(client, config.maxBufferedBytes, { roomId: room.roomId, userId: who(client).sub })) { return; }
      const timer = metrics.requests.startTimer({ type });
      const refusal = refusalOf(client, who(client).sub, type, raw, config, budgets);
      if (refusal) {
        timer({ outcome: refusal.code });
        // a plain send over a limit gets no answer: the answers would be the flood's amplifier
        return ctx?.id === undefined ? undefined : ctx.reject(refusal);
      }
      enterRequest(client);
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
        // run
        const answer = await spec.run(call);
        timer({ outcome: "ok" });
        return answer;
      } catch (e) {
        const reason = e instanceof ChatError ? e.toReason() : internalReason(e, room.roomId, type);
        timer({ outcome: reason.code });
        if (ctx?.id === undefined) {
          if (!isClosing(client)) { client.send("error", { type, ...reason }); }
          return;
        }
        return ctx.reject(reason);
      } finally {
        leaveRequest(client);
      }
    });
  }
  // unknown types: a request gets Colyseus' own "no_handler" error; a plain send gets
  // this, within the user's signal budget (past it, silence: an answer would amplify)
  room.onMessage("*", (client: ChatClient, type: string | number) => {
    if (isClosing(client) || !budgets.take(who(client).sub, budgetClassOf(String(type)))) { return; }
    client.send("error", { code: "unknown_request", message: `unknown message type "${String(type).slice(0, 64)}"` });
  });
}

/** The connection-level backstops of a room, beside the pipeline. */
export function guardConnections(room: Room, config: Pick<Config, "maxFramesPerSecond" | "maxBufferedBytes">) {
  // a backstop well above the budgets, for a runaway client: Colyseus closes it (4002)
  room.maxMessagesPerSecond = config.maxFramesPerSecond;
  // answers and patches to a client that does not read pile up in its send buffer
  room.clock.setInterval(() => {
    for (const client of room.clients as ChatClient[]) {
      closeIfSlowReader(client, config.maxBufferedBytes, { roomId: room.roomId, userId: who(client)?.sub });
    }
  }, 1_000);
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
