import { describe, expect, it } from "vitest";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { gitCommit, packageRoot, runMetadata, shellCommand, threadsOf } from "../../report/runMetadata.ts";

describe("runMetadata", () => {
  it("describes the run: date, command, version, machine, backend and its threads", () => {
    const m = runMetadata(
      ["rankfuse", "compare", "--data", "my text.txt"],
      {
        name: "native",
        describe: () => "native addon (OpenMP 8 threads)",
      },
      new Date("2026-01-02T03:04:05Z"),
    );
    expect(m.date).toBe("2026-01-02T03:04:05.000Z");
    expect(m.command).toBe("rankfuse compare --data 'my text.txt'");
    expect(m.backend).toEqual({ name: "native", description: "native addon (OpenMP 8 threads)", threads: 8 });
    expect(m.rankfuse.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(m.cpu.count).toBe(os.cpus().length);
    expect(m.node).toBe(process.version);
  });

  it("says the commit is unknown outside a git checkout, and quotes what a shell would split", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rankfuse-nogit-"));
    expect(gitCommit(dir)).toBe("unknown (not a git checkout)");
    expect(gitCommit(undefined)).toBe("unknown (not a git checkout)");
    fs.rmSync(dir, { recursive: true });
    expect(packageRoot()).toBe(path.resolve(import.meta.dirname, "../.."));
    expect(shellCommand(["a", "it's", "$x", "b=1,2"])).toBe(`a 'it'\\''s' '$x' b=1,2`);
    expect(threadsOf("float64 JavaScript reference kernels")).toBe("not reported");
  });
});
