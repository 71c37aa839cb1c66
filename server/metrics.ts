import client from "prom-client";

/** Prometheus metrics of this process, served at GET /metrics. */
export const registry = new client.Registry();
// process CPU, memory, event-loop delay and GC come with the default metrics
client.collectDefaultMetrics({ register: registry });

export const metrics = {
  connections: new client.Gauge({ name: "cc_connections", help: "Connected clients", registers: [registry] }),
  rooms: new client.Gauge({ name: "cc_rooms", help: "Live room actors by kind", labelNames: ["kind"], registers: [registry] }),
  activeConversations: new client.Gauge({ name: "cc_active_conversations", help: "Active conversations held by this process", registers: [registry] }),
  messages: new client.Counter({ name: "cc_messages_stored_total", help: "Messages stored", labelNames: ["kind"], registers: [registry] }),
  requests: new client.Histogram({
    name: "cc_request_duration_seconds", help: "Room request latency", labelNames: ["type", "outcome"],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1], registers: [registry],
  }),
  storageErrors: new client.Counter({ name: "cc_storage_errors_total", help: "Failed storage calls", registers: [registry] }),
  fencedActors: new client.Counter({ name: "cc_fenced_actors_total", help: "Room actors stopped because a newer actor owns their room (docs/cluster.md)", registers: [registry] }),
  leaseLapses: new client.Counter({ name: "cc_lease_lapses_total", help: "Times this process could not renew its lease in time and stopped its actors", registers: [registry] }),
};
