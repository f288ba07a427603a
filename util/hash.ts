/** SHA-256 helpers shared by the corpus fingerprint, token cache and checkpoint checksums. */
import { createHash, type Hash } from "node:crypto";

export const sha256Hex = (data: Uint8Array | string): string => createHash("sha256").update(data).digest("hex");

/** An incremental hasher, for fingerprints built from many pieces. */
export const sha256Stream = (): Hash => createHash("sha256");
