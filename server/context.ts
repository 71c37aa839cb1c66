import type { AgentRooms } from "./agentRooms";
import type { Config } from "./config";
import type { TokenVerifier } from "./auth";
import type { RoomStore } from "./store/types";
import type { Webhooks } from "./webhooks";

/**
 * What room actors need from their process. Colyseus constructs rooms itself, so
 * the process installs these once at start-up (server/app.ts) before it listens.
 */
export interface RoomServices {
  config: Config;
  store: RoomStore;
  verifier: TokenVerifier;
  webhooks: Webhooks;
  /** customer rooms per agent, for MAX_ROOMS_PER_AGENT (memory, or Redis on a Redis node) */
  agentRooms: AgentRooms;
}

let services: RoomServices | undefined;

export function installServices(value: RoomServices) { services = value; }

export function getServices(): RoomServices {
  if (!services) { throw new Error("room services not installed: start the server through server/app.ts"); }
  return services;
}
