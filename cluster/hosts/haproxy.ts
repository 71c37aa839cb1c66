/**
 * The balancer's configuration. One public port: `/matchmake/…` (and everything
 * else: the app API, /health) goes to any node that passes its `/ready` check; the
 * WebSocket of a room goes to the node that hosts it, by the path prefix of that
 * node's PUBLIC_ADDRESS (`<balancer>/n1`), with the prefix removed. A node that
 * fails two checks 500 ms apart (or refuses a connection) gets no new requests,
 * and its open WebSockets are closed (`on-marked-down shutdown-sessions`): a client
 * behind a partition would otherwise wait on a silent socket; closed, it rejoins
 * through the balancer. A request whose connection fails is sent to another node.
 */
export interface Backend { name: string; ip: string; port: number }

export function haproxyConfig(listen: { host: string; port: number }, backends: Backend[], statsSocket: string): string {
  const server = (b: Backend) => `  server ${b.name} ${b.ip}:${b.port} check inter 500ms fall 2 rise 2 on-marked-down shutdown-sessions`;
  return [
    "global",
    `  stats socket ${statsSocket} mode 600 level admin`,
    "  log stdout format raw local0 notice",
    "",
    "defaults",
    "  mode http",
    "  log global",
    "  option redispatch",
    "  retries 3",
    "  timeout connect 1s",
    "  timeout check 1s",
    "  timeout client 60s",
    "  timeout server 60s",
    // a WebSocket idles between the 3 s pings: this must stay above them
    "  timeout tunnel 60s",
    "",
    "frontend chat",
    `  bind ${listen.host}:${listen.port}`,
    ...backends.map((b) => `  use_backend host_${b.name} if { path_beg /${b.name}/ }`),
    "  default_backend any",
    "",
    "backend any",
    "  balance roundrobin",
    "  option httpchk GET /ready",
    "  http-check expect status 200",
    ...backends.map(server),
    "",
    ...backends.flatMap((b) => [
      `backend host_${b.name}`,
      `  http-request replace-path /${b.name}(/.*) \\1`,
      "  option httpchk GET /ready",
      // the room's own node or nothing: a WebSocket to another node finds no seat
      server(b),
      "",
    ]),
  ].join("\n");
}
