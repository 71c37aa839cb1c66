import { LocalPresence, matchMaker, Server, type Presence } from "@colyseus/core";
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
import { alwaysHeld, ProcessLease } from "../cluster/lease";
import { ProcessWatch } from "../cluster/processWatch";
import type { Config } from "../config";
import { mountAppApi } from "../http/appApi";
import { mountCannedApi } from "../http/cannedApi";
import { colyseusLogger } from "../http/colyseusLogger";
import { installHttpFront, jsonErrors, jsonNotFound } from "../http/front";
import { mountHealth } from "../http/health";
import { mapMatchmakeErrors } from "../http/matchmakeErrors";
import { DependencyProbes } from "../http/probes";
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
import { mountConnectorApi, reportGivenUp } from "../channels/http";
import { createAttachments } from "../attachments";
import { mountAttachments, uploadRoute } from "../attachments/http";

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
    // A command timeout: a frozen Redis (connection open, no answer) fails requests
    // with `unavailable` too, instead of leaving them to the client's timeout.
    redis = new Redis(config.redisUrl, { maxRetriesPerRequest: 1, enableOfflineQueue: false, lazyConnect: true, commandTimeout: config.redisCommandTimeoutMs });
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

  // webhooks and channel deliveries: outbox in the store, see server/webhooks/ and server/channels/
  const webhooks = createWebhooks(config, store, reportGivenUp);
  // fencing (docs/cluster.md): a cluster process serves its rooms only while it holds its lease
  const stopActor = (roomId: string, reason: string) => (matchMaker.getLocalRoomById(roomId) as { fence?: (r: string) => void } | undefined)?.fence?.(reason);
  const lease = redis && driver instanceof AtomicRedisDriver
    ? new ProcessLease(redis, () => matchMaker.processId, config.leaseMs, async () => {
      for (const roomId of await driver.lostListings()) { stopActor(roomId, "its listing was removed: the cluster declared this process dead"); }
    })
    : undefined;
  if (driver instanceof AtomicRedisDriver) { driver.onListingLost = (roomId) => stopActor(roomId, "its listing belongs to another actor, or is gone"); }
  const services: Services = {
    lease: lease ?? alwaysHeld,
    config, store, verifier: verifierFor(config), webhooks, agentRooms: createAgentRooms(redis),
    // one registry per process: every room on it charges the same per-user buckets
    budgets: budgetsFor(config),
    attachments: createAttachments(config), // server/attachments/: disk or an S3-compatible bucket
  };

  // /health, /ready and the matchmaking gate: pings with a timeout (server/http/probes.ts)
  const probes = new DependencyProbes(redis, store, {
    timeoutMs: config.healthProbeTimeoutMs, cacheMs: config.healthCacheMs, intervalMs: config.healthIntervalMs,
  });

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
      mountHealth(app, probes, services.lease);
      mountMetrics(app, metricsPolicy);
      mountAppApi(app, services);
      mountCannedApi(app, services);
      mountRecordsApi(app, services); // erasure, export, search, audit
      mountConnectorApi(app, services); // channel connectors (docs/channels.md)
      mountAttachments(app, services); // uploads, signed URLs, downloads
      mountWeb(app, config);
      app.use(jsonNotFound(), jsonErrors());
    },
  });

  const rooms = roomDefinitions(services);
  // once the matchmaker registered an actor as its room's, the actor takes the room for good (rooms/ownership.ts)
  const registered = (room: unknown) => (room as { registered?: () => void }).registered?.();
  server.define("contact_center", rooms.contact_center).filterBy(["roomKey"]).on("create", registered);
  server.define("private", rooms.private).filterBy(["roomKey"]).on("create", registered);
  server.define("team", rooms.team).filterBy(["roomKey"]).on("create", registered);

  await server.listen(config.port);
  await lease?.start();
  // a lapsed lease is taken again at the next renewal (every quarter of LEASE_MS): a join waits that long at most
  mapMatchmakeErrors(probes, config.matchmakeTimeoutMs, lease ?? alwaysHeld, config.leaseMs / 2);
  probes.start();
  installHttpFront(transport.server!, { bodyMaxBytes: config.httpBodyMaxBytes, apiBodyMaxBytes: config.maxRequestBytes, corsOrigins: config.corsOrigins, publicAddress: config.publicAddress, streamedBodyMaxBytes: uploadRoute });
  const metricsServer = await startMetricsServer(metricsPolicy);
  const sweeper = new IdleSweeper(store, config.sweepIntervalMs, resumeOptions);
  sweeper.start();
  // only a cluster has other processes to lose
  const processWatch = new ProcessWatch(config.processCheckMs);
  if (config.redisUrl) { processWatch.start(); }
  const retention = new RetentionJob(store, config.retentionMs, config.retentionIntervalMs); // server/cluster/retention.ts
  await retention.start();
  logger.info({ port: config.port, publicAddress: config.publicAddress }, "listening");

  return {
    server,
    store,
    async stop() {
      // /ready answers 503 from here on: the balancer stops sending this node joins
      probes.draining = true;
      sweeper.stop();
      processWatch.stop();
      await retention.stop();
      metricsServer?.close();
      // what the actors emitted while flushing gets its chance to go out
      await Promise.race([webhooks.drain(), new Promise((r) => setTimeout(r, 3_000))]);
      await server.gracefullyShutdown(false);
      probes.stop();
      await lease?.stop(); // the rooms may start elsewhere at once
      await store.close();
      redis?.disconnect();
    },
  };
}

