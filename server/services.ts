import type { Attachments } from "./attachments";
import type { TokenVerifier } from "./auth";
import type { AgentRooms } from "./cluster/agentRooms";
import type { Lease } from "./cluster/lease";
import type { UserBudgets } from "./policy/budgets";
import type { Config } from "./config";
import type { RoomStore } from "./store/types";
import type { Webhooks } from "./webhooks";

/**
 * What a node gives its room actors and its HTTP API. The wiring
 * (server/wiring/app.ts) builds it once and hands it to each by parameter:
 * there is no global to reach for.
 */
export interface Services {
  config: Config;
  store: RoomStore;
  verifier: TokenVerifier;
  webhooks: Webhooks;
  /** customer rooms per agent, for MAX_ROOMS_PER_AGENT (memory, or Redis on a Redis node) */
  agentRooms: AgentRooms;
  /** the per-user request and join budgets of this process (server/policy/budgets.ts) */
  budgets: UserBudgets;
  /** attachment storage and signed URLs (server/attachments/) */
  attachments: Attachments;
  /** this process's lease: its actors write and start only while it holds (docs/cluster.md, Fencing) */
  lease: Lease;
}
