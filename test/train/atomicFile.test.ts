import { describe, it, expect } from "vitest";
import * as fs from "node:fs";
import * as path from "node:path";
import * as E from "fp-ts/lib/Either.js";
import { checksumPath, readVerified, writeFileAtomic, writeVerified } from "../../train/atomicFile.ts";
import { tempDir } from "./tempDir.ts";

const bytes = (...xs: number[]) => Uint8Array.from(xs);

describe("writeFileAtomic", () => {
  it("writes and replaces a file, leaving no temp files behind", () => {
    const dir = tempDir();
    const file = path.join(dir, "a.bin");
    expect(E.isRight(writeFileAtomic(file, bytes(1, 2, 3)))).toBe(true);
    expect(E.isRight(writeFileAtomic(file, bytes(4, 5)))).toBe(true);
    expect([...fs.readFileSync(file)]).toEqual([4, 5]);
    expect(fs.readdirSync(dir)).toEqual(["a.bin"]);
  });

  it("fails as a value into a missing directory", () => {
    const r = writeFileAtomic(path.join(tempDir(), "nope", "a.bin"), bytes(1));
    expect(E.isLeft(r) && r.left.tag === "CheckpointError" && r.left.message.includes("cannot write")).toBe(true);
  });

  it("leaves the existing file untouched when the write fails", () => {
    const dir = tempDir();
    const file = path.join(dir, "a.bin");
    fs.writeFileSync(file, bytes(9, 9));
    // A directory where the file should go makes the rename fail after the temp file was written.
    const blocked = path.join(dir, "blocked");
    fs.mkdirSync(path.join(blocked, "child"), { recursive: true });
    expect(E.isLeft(writeFileAtomic(blocked, bytes(1)))).toBe(true);
    expect([...fs.readFileSync(file)]).toEqual([9, 9]);
    expect(fs.readdirSync(dir).sort()).toEqual(["a.bin", "blocked"]);
  });
});

describe("writeVerified / readVerified", () => {
  it("round-trips a payload", () => {
    const file = path.join(tempDir(), "ckpt.safetensors");
    const payload = Uint8Array.from({ length: 1000 }, (_, i) => i % 251);
    expect(E.isRight(writeVerified(file, payload))).toBe(true);
    const r = readVerified(file);
    expect(E.isRight(r) && Buffer.from(r.right).equals(payload)).toBe(true);
    expect(fs.existsSync(checksumPath(file))).toBe(true);
  });

  it("detects a single flipped byte with a checksum mismatch", () => {
    const file = path.join(tempDir(), "ckpt.bin");
    writeVerified(
      file,
      Uint8Array.from({ length: 64 }, (_, i) => i),
    );
    const damaged = fs.readFileSync(file);
    damaged[17] ^= 1;
    fs.writeFileSync(file, damaged);
    const r = readVerified(file);
    expect(E.isLeft(r)).toBe(true);
    if (E.isLeft(r)) {
      expect(r.left.tag).toBe("CheckpointError");
      expect(r.left.message).toMatch(
        new RegExp(
          `^checkpoint .*ckpt\\.bin is corrupt: checksum mismatch \\(expected [0-9a-f]{64}, got [0-9a-f]{64}\\)$`,
        ),
      );
    }
  });

  it("detects truncation and a missing sidecar", () => {
    const file = path.join(tempDir(), "ckpt.bin");
    writeVerified(file, bytes(1, 2, 3, 4));
    fs.truncateSync(file, 2);
    const r = readVerified(file, "token cache", "DataError");
    expect(
      E.isLeft(r) && r.left.tag === "DataError" && r.left.message.includes("size mismatch (expected 4 bytes, got 2)"),
    ).toBe(true);
    fs.rmSync(checksumPath(file));
    const m = readVerified(file);
    expect(E.isLeft(m) && m.left.message.includes("no readable checksum file")).toBe(true);
  });
});
