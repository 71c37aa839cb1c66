import { matchMaker } from "@colyseus/core";
import type Redis from "ioredis";
import { logger } from "../logger";

/**
 * The customer rooms each agent is in, for MAX_ROOMS_PER_AGENT. A room counts from
 * the agent's first connection joining it (`add`, by the room's actor) until its
 * last connection leaves it (`remove`). Joins are checked (`mayJoin`) in onAuth, on
 * the process that received the matchmaking request, which need not be the one
 * hosting the agent's rooms: the embedded node counts in memory, a Redis node in one
 * hash per agent, shared by the cluster.
 *
 * The check and the add are not one atomic step: concurrent joins of one agent may
 * go over the maximum by the joins in flight (bounded by JOINS_PER_SECOND).
 */
export interface AgentRooms {
  /** true when the agent is already in `roomId`, or in fewer than `max` rooms */
  mayJoin(agentId: string, roomId: string, max: number): Promise<boolean>;
  add(agentId: string, roomId: string): Promise<void>;
  remove(agentId: string, roomId: string): Promise<void>;
}

/** One process: the embedded node. */
export class MemoryAgentRooms implements AgentRooms {
  private byAgent = new Map<string, Set<string>>();

  async mayJoin(agentId: string, roomId: string, max: number) {
    const rooms = this.byAgent.get(agentId);
    return !rooms || rooms.has(roomId) || rooms.size < max;
  }

  async add(agentId: string, roomId: string) {
    let rooms = this.byAgent.get(agentId);
    if (!rooms) { this.byAgent.set(agentId, rooms = new Set()); }
    rooms.add(roomId);
  }

  async remove(agentId: string, roomId: string) {
    const rooms = this.byAgent.get(agentId);
    rooms?.delete(roomId);
    if (rooms?.size === 0) { this.byAgent.delete(agentId); }
  }
}

/** Deletes a field only while it still names the caller's process. */
const HDEL_IF = `
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
  return redis.call('HDEL', KEYS[1], ARGV[1])
end
return 0`;

/**
 * The cluster: `cc:agent-rooms:{agentId}`, a hash room id -> process id of the
 * actor that counted it. A process that dies without its actors' leaves leaves
 * entries behind; they are pruned when they would refuse a join: an entry whose
 * room has no listing, or a listing on another process, or on a process that
 * fails Colyseus' health check, no longer counts.
 */
export class RedisAgentRooms implements AgentRooms {
  constructor(private readonly redis: Redis, private readonly prefix = "cc:") {}

  key(agentId: string) { return `${this.prefix}agent-rooms:{${agentId}}`; }

  async mayJoin(agentId: string, roomId: string, max: number) {
    const key = this.key(agentId);
    const entries = await this.redis.hgetall(key);
    if (roomId in entries || Object.keys(entries).length < max) { return true; }
    const stale = await this.staleEntries(entries);
    for (const room of stale) { await this.redis.eval(HDEL_IF, 1, key, room, entries[room]); }
    return Object.keys(entries).length - stale.length < max;
  }

  private async staleEntries(entries: Record<string, string>): Promise<string[]> {
    const listings = await matchMaker.driver.findByIds(Object.keys(entries));
    const stale: string[] = [];
    const toCheck = new Map<string, string[]>();
    for (const [room, processId] of Object.entries(entries)) {
      if (listings.get(room)?.processId !== processId) { stale.push(room); continue; }
      if (processId === matchMaker.processId) { continue; }
      toCheck.set(processId, [...(toCheck.get(processId) ?? []), room]);
    }
    await Promise.all([...toCheck].map(async ([processId, rooms]) => {
      const alive = await matchMaker.healthCheckProcessId(processId).catch(() => false);
      if (!alive) { stale.push(...rooms); }
    }));
    if (stale.length) { logger.info({ rooms: stale.length }, "pruned agent room entries of gone actors"); }
    return stale;
  }

  async add(agentId: string, roomId: string) {
    await this.redis.hset(this.key(agentId), roomId, matchMaker.processId);
  }

  async remove(agentId: string, roomId: string) {
    await this.redis.eval(HDEL_IF, 1, this.key(agentId), roomId, matchMaker.processId);
  }
}

export function createAgentRooms(redis: Redis | undefined): AgentRooms {
  return redis ? new RedisAgentRooms(redis) : new MemoryAgentRooms();
}

/** The join check of MAX_ROOMS_PER_AGENT; a failing count store lets the join through (logged). */
export async function mayJoinAnother(agentRooms: AgentRooms, agentId: string, roomId: string, max: number): Promise<boolean> {
  try {
    return await agentRooms.mayJoin(agentId, roomId, max);
  } catch (e: any) {
    logger.warn({ err: e?.message }, "agent room count unavailable; join allowed");
    return true;
  }
}
