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
}

let services: RoomServices | undefined;

export function installServices(value: RoomServices) { services = value; }

export function getServices(): RoomServices {
  if (!services) { throw new Error("room services not installed: start the server through server/app.ts"); }
  return services;
}
