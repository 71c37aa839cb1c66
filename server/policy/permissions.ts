import { randomUUID } from "node:crypto";
import { z } from "zod";
import type { Identity } from "../auth";
import type { Config } from "../config";
import { AuthError } from "../errors";
import { isId, roomIdFor } from "../ids";
import { textField } from "./requests";
import type { RoomKind, RoomRecord, RoomStore } from "../store/types";

/** The settings the permission table reads. */
export type PolicyConfig = Pick<Config, "agentTeamScoped" | "defaultTeam">;

/**
 * Who may do what: the one place the permission table of docs/security.md is
 * enforced. Join resolution also derives the room id, so a client can never pick
 * a room by naming its id.
 */

export interface ResolvedJoin {
  roomId: string;
  kind: RoomKind;
  /** the record to create when the room does not exist yet (null: must exist) */
  create: RoomRecord | null;
  /** the customer's channel, for a customer joining a customer room */
  channel: { type: string; address: string } | null;
  /** a supervisor joining silently (`mode: "monitor"`) */
  monitor: boolean;
  /** a customer creating a private room: its PRIVATE_ROOMS_* limits apply (server/policy/privateRooms.ts) */
  limitFor?: string;
}

const channelSchema = z.object({
  type: z.string().regex(/^[a-z][a-z0-9_-]{0,31}$/, "channel.type must be a lowercase word"),
  address: textField(256).optional(),
});

const STAFF = new Set(["agent", "supervisor"]);
const subjectSchema = textField(200);

/**
 * AGENT_TEAM_SCOPED: staff and bots reach only the customer and private rooms of
 * their teams, and the rooms they were let into by name (a member: the creator of a
 * private room, or the agent who accepted a transfer or conference from another team).
 */
function checkTeamScope(identity: Identity, record: RoomRecord, config: PolicyConfig) {
  if (!config.agentTeamScoped || (!STAFF.has(identity.role) && identity.role !== "bot")) { return; }
  const team = record.teamId || config.defaultTeam;
  if (!identity.teams.includes(team) && !record.members.includes(identity.sub)) {
    forbid(`this ${record.kind === "private" ? "private" : "customer's"} room belongs to team ${team}`);
  }
}

function forbid(message: string): never {
  throw new AuthError("forbidden", message);
}

function newRecord(roomId: string, kind: RoomKind, fields: Partial<RoomRecord>): RoomRecord {
  const now = Date.now();
  return {
    roomId, kind, members: [], customers: [], createdAt: now, lastActivityAt: now,
    activeConversationId: null, lastSeq: 0, pastConversations: 0, ...fields,
  };
}

function parseChannel(identity: Identity, options: any) {
  if (identity.role !== "customer") { return null; }
  const parsed = channelSchema.safeParse(options?.channel ?? { type: "web" });
  if (!parsed.success) { throw new AuthError("invalid_options", parsed.error.issues[0]?.message ?? "bad channel"); }
  return { type: parsed.data.type, address: parsed.data.address ?? "" };
}

export async function resolveJoin(
  roomName: string, identity: Identity, options: any, store: RoomStore, config: PolicyConfig,
): Promise<ResolvedJoin> {
  const monitor = options?.mode === "monitor";
  if (monitor && (identity.role !== "supervisor" || roomName === "team")) {
    forbid("only supervisors monitor, and only customer rooms");
  }
  if (options?.mode !== undefined && !monitor) { throw new AuthError("invalid_options", "mode must be \"monitor\""); }
  return { ...(await resolveRoom(roomName, identity, options, store, config)), monitor };
}

async function resolveRoom(
  roomName: string, identity: Identity, options: any, store: RoomStore, config: PolicyConfig,
): Promise<Omit<ResolvedJoin, "monitor">> {
  if (identity.role === "connector") { forbid("connectors use the connector API, not rooms"); }
  const channel = parseChannel(identity, options);
  switch (roomName) {
    case "contact_center": {
      if (identity.role === "customer") {
        const roomId = roomIdFor.contactCenter(identity.sub);
        if (options?.teamId !== undefined && !isId(options.teamId)) { throw new AuthError("invalid_options", "teamId must match [A-Za-z0-9_-]{1,64}"); }
        // the team whose queue serves this customer; fixed when the room is created
        const teamId: string | undefined = options?.teamId;
        return { roomId, kind: "contact_center", channel, create: newRecord(roomId, "contact_center", { customers: [identity.sub], ...(teamId ? { teamId } : {}) }) };
      }
      if (identity.role === "app") { forbid("apps use the HTTP API, not rooms"); }
      if (!isId(options?.customerId)) { throw new AuthError("invalid_options", "customerId must match [A-Za-z0-9_-]{1,64}"); }
      const roomId = roomIdFor.contactCenter(options.customerId);
      // a customer room never exists without its customer: staff cannot create one
      const record = await store.getRoom(roomId);
      if (!record) { throw new AuthError("room_not_found", `no contact_center room for customer ${options.customerId}`); }
      checkTeamScope(identity, record, config);
      return { roomId, kind: "contact_center", channel: null, create: null };
    }

    case "private": {
      if (options?.roomId !== undefined) {
        if (typeof options.roomId !== "string" || !/^pr-[A-Za-z0-9_-]{1,64}$/.test(options.roomId)) {
          throw new AuthError("invalid_options", "roomId must be pr-<id>");
        }
        const record = await store.getRoom(options.roomId);
        if (!record || record.kind !== "private") { throw new AuthError("room_not_found", `no private room ${options.roomId}`); }
        if (identity.role === "app") { forbid("apps use the HTTP API, not rooms"); }
        if (identity.role === "customer" && !record.members.includes(identity.sub)) { forbid("not a member of this private room"); }
        checkTeamScope(identity, record, config);
        return { roomId: record.roomId, kind: "private", channel, create: null };
      }
      if (options?.customers === undefined && (STAFF.has(identity.role) || identity.role === "bot")) {
        // joinById (whose options are the client's, without a roomId): the room found by
        // the matchmaker checks the join (PrivateRoom.joinById); a create needs customers
        return { roomId: "", kind: "private", channel, create: null };
      }
      const customers = options?.customers ?? (identity.role === "customer" ? [identity.sub] : undefined);
      if (!Array.isArray(customers) || customers.length === 0 || customers.length > 20 || !customers.every(isId)) {
        throw new AuthError("invalid_options", "customers must be 1..20 ids");
      }
      if (identity.role === "customer" && !customers.includes(identity.sub)) { forbid("a customer creates private rooms it belongs to"); }
      // other customers are brought in by staff or apps, never by a customer
      if (identity.role === "customer" && customers.some((c) => c !== identity.sub)) { forbid("a customer creates private rooms for itself only"); }
      if (identity.role === "bot") { forbid("bots do not create private rooms"); }
      let subject: string | undefined;
      if (options?.subject !== undefined) {
        const parsed = subjectSchema.safeParse(options.subject);
        if (!parsed.success) { throw new AuthError("invalid_options", `subject: ${parsed.error.issues[0]?.message ?? "invalid"}`); }
        subject = parsed.data;
      }
      if (options?.teamId !== undefined && !isId(options.teamId)) { throw new AuthError("invalid_options", "teamId must match [A-Za-z0-9_-]{1,64}"); }
      if (config.agentTeamScoped && STAFF.has(identity.role) && options?.teamId !== undefined && !identity.teams.includes(options.teamId)) {
        forbid(`not a member of team ${options.teamId}`);
      }
      // the team whose queue serves the room: the one named, else the staff creator's first
      const teamId: string | undefined = options?.teamId ?? (identity.role === "customer" ? undefined : identity.teams[0]);
      const roomId = roomIdFor.private(randomUUID().replace(/-/g, ""));
      const members = [...new Set([...customers, identity.sub])];
      return {
        roomId, kind: "private", channel,
        create: newRecord(roomId, "private", { customers: [...new Set(customers as string[])], members, ...(subject ? { subject } : {}), ...(teamId ? { teamId } : {}) }),
        ...(identity.role === "customer" ? { limitFor: identity.sub } : {}),
      };
    }

    case "team": {
      if (!isId(options?.teamId)) { throw new AuthError("invalid_options", "teamId must match [A-Za-z0-9_-]{1,64}"); }
      // bots of a team sit in its room to take the requests the team gives them
      if (!STAFF.has(identity.role) && identity.role !== "bot") { forbid("team rooms are for agents, supervisors and the team's bots"); }
      if (!identity.teams.includes(options.teamId)) { forbid(`not a member of team ${options.teamId}`); }
      const roomId = roomIdFor.team(options.teamId);
      return { roomId, kind: "team", channel: null, create: newRecord(roomId, "team", { teamId: options.teamId }) };
    }
  }
  throw new AuthError("invalid_options", `unknown room ${roomName}`);
}

export type Action = "send" | "note" | "end" | "read_history" | "transfer" | "invite" | "handover" | "barge" | "start" | "follow_up" | "rate" | "manage_canned";

/** Actions inside a room the identity has already joined: the table's action rows. */
export function may(identity: Identity, action: Action): boolean {
  switch (action) {
    case "send": return true;
    case "read_history": return true;
    case "note": return STAFF.has(identity.role);
    case "end": return STAFF.has(identity.role);
    case "transfer": return STAFF.has(identity.role);
    case "invite": return STAFF.has(identity.role);
    case "handover": return identity.role === "bot" || identity.role === "agent";
    // and only while monitoring: checked by the room, which knows how the client joined
    case "barge": return identity.role === "supervisor";
    // an outbound conversation, started on purpose by a human
    case "start": return STAFF.has(identity.role);
    // the waiting customer's own contact address
    case "follow_up": return identity.role === "customer";
    case "rate": return identity.role === "customer";
    case "manage_canned": return identity.role === "supervisor";
  }
}

/**
 * The `accept` row: who may take a request from a team's queue. A request named for
 * someone is theirs alone; bots take the requests for bots (or named to them); a
 * bot's request goes to others only once it escalated. The team room adds each
 * agent's maximum of conversations (`at_capacity`). Returns the refusal, or null.
 */
export function acceptRefusal(identity: Identity, request: { targetUserId: string; forBot: boolean; escalated: boolean }): string | null {
  if (!STAFF.has(identity.role) && identity.role !== "bot") { return "only agents, supervisors and bots accept requests"; }
  if (request.targetUserId && request.targetUserId !== identity.sub) { return `request is for ${request.targetUserId}`; }
  if (identity.role === "bot" && !request.forBot && !request.targetUserId) { return "bots take the requests for bots"; }
  if (request.forBot && identity.role !== "bot" && !request.escalated) { return "the team's bot takes this request first"; }
  return null;
}

/**
 * The connector row: a connector acts only for the channel types in its token's
 * `channels` claim (server/channels/http.ts); no other role uses the connector API.
 */
export function mayUseChannel(identity: Identity, type: string): boolean {
  return identity.role === "connector" && (identity.channels ?? []).includes(type);
}

/**
 * The attachments row: who may upload into a room and get its attachments' URLs. The
 * room's customers (a private room's members), staff and bots as for a join (team
 * scope included), applications for customer rooms; nobody for team rooms. Connectors
 * upload through the connector API and get URLs in their deliveries only.
 */
export function mayReadRoom(identity: Identity, record: RoomRecord, config: PolicyConfig): boolean {
  if (record.kind === "team") { return false; }
  switch (identity.role) {
    case "customer": return record.kind === "private" ? record.members.includes(identity.sub) : record.customers.includes(identity.sub);
    case "app": return true;
    case "connector": return false;
    default:
      try { checkTeamScope(identity, record, config); return true; } catch { return false; }
  }
}

/** Who sees agent notes in state and history. */
export function seesNotes(identity: Identity): boolean {
  return STAFF.has(identity.role);
}

