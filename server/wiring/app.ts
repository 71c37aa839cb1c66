import { LocalPresence, Server, type Presence } from "@colyseus/core";
import { WebSocketTransport } from "@colyseus/ws-transport";
import { RedisPresence } from "@colyseus/redis-presence";
import type express from "express";
import Redis from "ioredis";
// the one import of rooms/ under server/: the wiring registers them
import { roomDefinitions } from "../../rooms/definitions";
import { verifierFor } from "../auth";
import { createAgentRooms } from "../cluster/agentRooms";
import { resumeOptions } from "../cluster/joinOptions";
import { AtomicRedisDriver, KeyedLocalDriver, selectProcessForRoom } from "../cluster/matchmaking";
import { IdleSweeper } from "../cluster/sweeper";
import type { Config } from "../config";
import { mountAppApi } from "../http/appApi";
import { mountCannedApi } from "../http/cannedApi";
import { colyseusLogger } from "../http/colyseusLogger";
import { installHttpFront, jsonErrors, jsonNotFound } from "../http/front";
import { mountHealth } from "../http/health";
import { mountMetrics, startMetricsServer } from "../http/metricsAccess";
import { mountWeb } from "../http/web";
import { logger } from "../logger";
import type { Services } from "../services";
import { budgetsFor } from "../policy/budgets";
import { createStore, describeStore } from "../store";
import type { RoomStore } from "../store/types";
import { createWebhooks } from "../webhooks";
import { RetentionJob } from "../cluster/retention";
import { mountRecordsApi } from "../http/recordsApi";

export interface RunningServer {
  server: Server;
  store: RoomStore;
  stop(): Promise<void>;
}

/**
 * Builds and starts one node: embedded (local presence, local matchmaking, memory
 * store) without REDIS_URL, or a Redis-backed node that can join a cluster.
 */
export async function startServer(config: Config): Promise<RunningServer> {
  let store: RoomStore;
  let presence: Presence | undefined;
  let driver: AtomicRedisDriver | KeyedLocalDriver;
  let redis: Redis | undefined;

  if (config.redisUrl) {
    // Each Redis package gets its own connection: presence needs a subscriber, and
    // the ioredis 5 instances must come from the same major they bundle.
    // No offline queue: while Redis is down a request fails at once with
    // `unavailable` (and the client retries with the same id) instead of hanging.
    redis = new Redis(config.redisUrl, { maxRetriesPerRequest: 1, enableOfflineQueue: false, lazyConnect: true });
    redis.on("error", (err) => logger.warn({ err: err.message }, "redis store connection error"));
    await redis.connect();
    presence = new RedisPresence(config.redisUrl);
    driver = new AtomicRedisDriver(config.redisUrl);
    logger.info({ mode: "redis", publicAddress: config.publicAddress }, "starting a Redis-backed node");
  } else {
    presence = new LocalPresence();
    driver = new KeyedLocalDriver();
    logger.info({ mode: "embedded" }, "starting one embedded node: local presence, local matchmaking (set REDIS_URL for Redis)");
  }
  // DATABASE_URL chooses the store (docs/storage.md)
  store = await createStore(config, redis);
  logger.info({ store: describeStore(config.databaseUrl) }, "store open");

  const webhooks = createWebhooks(config, store); // webhooks: outbox in the store, see server/webhooks/
  const services: Services = {
    config, store, verifier: verifierFor(config), webhooks, agentRooms: createAgentRooms(redis),
    // one registry per process: every room on it charges the same per-user buckets
    budgets: budgetsFor(config),
  };

  const transport = new WebSocketTransport({ maxPayload: config.maxPayloadBytes });
  const metricsPolicy = { token: config.metricsToken, port: config.metricsPort };
  const server = new Server({
    logger: colyseusLogger,
    greet: false,
    gracefullyShutdown: false,
    publicAddress: config.publicAddress,
    presence,
    driver,
    selectProcessIdToCreateRoom: selectProcessForRoom,
    transport,
    express: (app: express.Application) => {
      app.disable("x-powered-by");
      mountHealth(app, redis);
      mountMetrics(app, metricsPolicy);
      mountAppApi(app, services);
      mountCannedApi(app, services);
      mountRecordsApi(app, services); // erasure, export, search, audit
      mountWeb(app, config);
      app.use(jsonNotFound(), jsonErrors());
    },
  });

  const rooms = roomDefinitions(services);
  server.define("contact_center", rooms.contact_center).filterBy(["roomKey"]);
  server.define("private", rooms.private).filterBy(["roomKey"]);
  server.define("team", rooms.team).filterBy(["roomKey"]);

  await server.listen(config.port);
  installHttpFront(transport.server!, { bodyMaxBytes: config.httpBodyMaxBytes, apiBodyMaxBytes: config.maxRequestBytes, corsOrigins: config.corsOrigins, publicAddress: config.publicAddress });
  const metricsServer = await startMetricsServer(metricsPolicy);
  const sweeper = new IdleSweeper(store, config.sweepIntervalMs, resumeOptions);
  sweeper.start();
  const retention = new RetentionJob(store, config.retentionMs, config.retentionIntervalMs); // server/cluster/retention.ts
  await retention.start();
  logger.info({ port: config.port, publicAddress: config.publicAddress }, "listening");

  return {
    server,
    store,
    async stop() {
      sweeper.stop();
      await retention.stop();
      metricsServer?.close();
      // what the actors emitted while flushing gets its chance to go out
      await Promise.race([webhooks.drain(), new Promise((r) => setTimeout(r, 3_000))]);
      await server.gracefullyShutdown(false);
      await store.close();
      redis?.disconnect();
    },
  };
}

