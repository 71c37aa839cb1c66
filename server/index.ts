// first: Colyseus reads its timeouts when it loads (DEAD_PROCESS_MS, docs/cluster.md)
import "./cluster/detection";
import { loadConfig } from "./config";
import { logger } from "./logger";
import { startServer } from "./wiring/app";

/** `npm start`: one node, configured from the environment. */
async function main() {
  const config = loadConfig();
  const running = await startServer(config);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) { return; }
    stopping = true;
    logger.info({ signal }, "shutting down");
    await running.stop().catch((err) => logger.error({ err }, "shutdown failed"));
    process.exit(0);
  };
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("SIGINT", () => void stop("SIGINT"));
  // PM2 (wait_ready) starts routing to this process once it says it is ready
  process.send?.("ready");
}

main().catch((err) => {
  logger.fatal({ err: err instanceof Error ? err.message : err }, "server failed to start");
  process.exit(1);
});
