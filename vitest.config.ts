import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

/** The package's entry points by name, resolved to this checkout's sources (as tsconfig.json's `paths` do for tsc and tsx). */
const ENTRY_POINTS: Record<string, string> = {
  rankfuse: "index.ts",
  "rankfuse/models": "models.ts",
  "rankfuse/methods": "methods.ts",
  "rankfuse/train": "train.ts",
  "rankfuse/testing": "testing.ts",
  "rankfuse/backend-api": "backendApi.ts",
};

export default defineConfig({
  resolve: {
    alias: Object.entries(ENTRY_POINTS).map(([name, file]) => ({
      find: new RegExp(`^${name}$`),
      replacement: fileURLToPath(new URL(file, import.meta.url)),
    })),
  },
  test: {
    include: ["test/**/*.test.ts", "examples/**/*.test.ts"],
    typecheck: { include: ["test/**/*.test-d.ts"], tsconfig: "./tsconfig.json" },
    testTimeout: 60_000,
  },
});
