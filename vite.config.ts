import { resolve } from "node:path";
import { defineConfig } from "vite";

// The customer widget (index.html, also what embed.js frames), the agent console
// (agent.html), a host page that shows the one-script-tag embed (demo.html) and
// embed.js itself, built into web/dist, which the server serves under / in development.
export default defineConfig({
  root: resolve(__dirname, "web"),
  // JSX for Preact through Vite's own esbuild: no Babel plugin chain, and nothing but
  // `preact` itself to install (the pages are built, not hot-reloaded in development)
  esbuild: { jsx: "automatic", jsxImportSource: "preact" },
  build: {
    outDir: resolve(__dirname, "web/dist"),
    emptyOutDir: true,
    rollupOptions: {
      input: {
        widget: resolve(__dirname, "web/index.html"),
        agent: resolve(__dirname, "web/agent.html"),
        demo: resolve(__dirname, "web/demo.html"),
        embed: resolve(__dirname, "web/src/embed.ts"),
      },
      output: {
        // the host page's script tag names a stable file; everything else is content-hashed
        entryFileNames: (chunk) => (chunk.name === "embed" ? "embed.js" : "assets/[name]-[hash].js"),
      },
    },
  },
});
