import { ChatConnection, ChatError, type JoinOptions, type RoomName } from "../../../client";
import type { TokenSource } from "./auth";

/** The pages are served by the chat server itself, so it is at this origin. */
export const serverUrls = () => [location.origin];

/** Joins through the client library, which owns the rejoin, catch-up and outbox. */
export async function join<R extends RoomName>(room: R, options: JoinOptions[R], tokens: TokenSource): Promise<ChatConnection<R>> {
  const token = await tokens();
  return ChatConnection.join({ urls: serverUrls(), token, getToken: tokens, room, options });
}

/** What a person can read from any failure. */
export function describe(error: unknown): string {
  if (error instanceof ChatError) { return error.message || error.code; }
  if (error instanceof Error) { return error.message; }
  return String(error);
}

export function newId(prefix = "m"): string {
  return `${prefix}-${crypto.randomUUID()}`;
}

/**
 * Requests the typed library does not list yet (server parts other modules add, e.g.
 * `follow_up`): sent through the same connection, answered or refused like any other.
 */
export function extraRequest(connection: ChatConnection<any>, type: string, payload: object): Promise<any> {
  return (connection.request as (t: string, p: object) => Promise<any>)(type, payload);
}
