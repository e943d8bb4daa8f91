/// <reference types="vitest/config" />
import { fileURLToPath, URL } from "node:url";
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// The production build is written into the Python package and committed; it must be
// byte-for-byte reproducible from the source (scripts/check-ui-build.sh checks that).
export default defineConfig({
  plugins: [react()],
  resolve: { alias: { "@": fileURLToPath(new URL("./src", import.meta.url)) } },
  build: {
    outDir: "../msgtrace/api/static",
    emptyOutDir: true,
    sourcemap: false,
    chunkSizeWarningLimit: 600,
  },
  server: {
    proxy: { "/api": process.env.MSGTRACE_URL ?? "http://127.0.0.1:4321", "/health": process.env.MSGTRACE_URL ?? "http://127.0.0.1:4321" },
  },
  test: { include: ["src/**/*.test.ts", "src/**/*.test.tsx"], environment: "node" },
});
