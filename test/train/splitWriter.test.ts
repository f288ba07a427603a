import { describe, expect, it } from "vitest";
import * as fs from "node:fs";
import * as path from "node:path";
import { SplitWriter } from "../../train/splitWriter.ts";
import { byteTokenizer } from "../../train/tokenizer.ts";
import { tempDir } from "./tempDir.ts";

describe("SplitWriter (token files written in the background)", () => {
  it("writes every token in order across many buffers (and background write-backs), and a checkpoint counts them all", async () => {
    const file = path.join(tempDir(), "train.bin");
    const w = new SplitWriter(file, "uint16", byteTokenizer);
    const piece = "abcdefghij".repeat(100_003); // not a multiple of the buffer
    for (let i = 0; i < 34; i++) w.text(piece); // 34M tokens: past the write-back every 32 buffers
    const state = await w.checkpoint();
    expect(state.tokens).toBe(34 * piece.length);
    await w.finish();
    const got = new Uint16Array(fs.readFileSync(file).buffer.slice(0));
    expect(got.length).toBe(34 * piece.length);
    for (const at of [0, 1 << 20, (1 << 20) + 7, 33_000_000, got.length - 1])
      expect(got[at]).toBe(piece.charCodeAt(at % piece.length));
  });

  it("a background write that fails (a full disk) fails the next flush or checkpoint, and close still closes", async () => {
    const w = new SplitWriter("/dev/full", "uint16", byteTokenizer);
    const big = "x".repeat(3 << 20);
    let thrown: unknown;
    try {
      w.text(big);
      await w.checkpoint();
    } catch (e) {
      thrown = e;
    }
    expect((thrown as NodeJS.ErrnoException).code).toBe("ENOSPC");
    await expect(w.close()).resolves.toBeUndefined();
  });
});
