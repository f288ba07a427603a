import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { maxRssBytes } from "../../bench/peers/peerFiles.ts";

/**
 * A peer's peak RSS is its own: getrusage's maxRSS inherits the parent's peak across fork+exec on Linux,
 * which made every peer spawned by the (large) bench process report the bench's own peak.
 */
describe("peer peak RSS", () => {
  it("a child spawned by a large parent reports its own, smaller peak", () => {
    const big = Buffer.alloc(600 * 2 ** 20, 1); // touched, so resident
    const parent = maxRssBytes();
    expect(parent).toBeGreaterThan(600 * 2 ** 20);
    const code = `import("./bench/peers/peerFiles.ts").then((m) => console.log(JSON.stringify({ own: m.maxRssBytes(), rusage: process.resourceUsage().maxRSS * 1024 })))`;
    const r = spawnSync(process.execPath, ["--import", "tsx", "-e", code], { encoding: "utf8" });
    expect(r.status).toBe(0);
    const child = JSON.parse(r.stdout.trim().split("\n").pop()!) as { own: number; rusage: number };
    expect(child.own).toBeGreaterThan(10 * 2 ** 20);
    expect(child.own).toBeLessThan(parent / 2);
    expect(big[big.length - 1]).toBe(1);
  });
});
