import { resolve } from "node:path";
import { defineConfig } from "vite";

// The customer widget (index.html) and the agent console (agent.html), built into
// web/dist, which the server serves under / in development.
export default defineConfig({
  root: resolve(__dirname, "web"),
  build: {
    outDir: resolve(__dirname, "web/dist"),
    emptyOutDir: true,
    rollupOptions: {
      input: {
        widget: resolve(__dirname, "web/index.html"),
        agent: resolve(__dirname, "web/agent.html"),
      },
    },
  },
});
