import type { AuthContext } from "@colyseus/core";
import type { Services } from "../server/services";
import { authenticate } from "./auth";
import { CustomerRoom } from "./CustomerRoom";
import { PrivateRoom as PrivateRoomBase } from "./PrivateRoom";
import { TeamRoom } from "./TeamRoom";

/**
 * The three room definitions of a node, bound to its services: Colyseus constructs
 * rooms itself, so the services travel in the classes made here, not in a global.
 * Each definition's static onAuth authenticates joins for its room name.
 */
export function roomDefinitions(services: Services) {
  class ContactCenterRoom extends CustomerRoom {
    readonly services = services;
    static async onAuth(token: string, options: any, _context: AuthContext) { return authenticate(services, "contact_center", token, options); }
  }

  class PrivateRoom extends PrivateRoomBase {
    readonly services = services;
    static async onAuth(token: string, options: any, _context: AuthContext) { return authenticate(services, "private", token, options); }
  }

  class TeamRoomOfNode extends TeamRoom {
    readonly services = services;
    static async onAuth(token: string, options: any, _context: AuthContext) { return authenticate(services, "team", token, options); }
  }

  return { contact_center: ContactCenterRoom, private: PrivateRoom, team: TeamRoomOfNode };
}
