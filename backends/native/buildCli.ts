/**
 * Builds the native addon if needed and prints its path, or why it could not be built. Always exits
 * 0, so an install script calling it never fails: the native backend is optional.
 *   npx tsx backends/native/buildCli.ts
 */
import * as E from "fp-ts/lib/Either.js";
import { nativeAddonPath } from "./build.ts";

try {
  const built = nativeAddonPath();
  if (E.isRight(built)) console.log(`rankfuse native addon: ${built.right}`);
  else console.log(`rankfuse native addon not built (the native backend will be unavailable): ${built.left}`);
} catch (e) {
  console.log(`rankfuse native addon not built: ${(e as Error).message}`);
}
process.exitCode = 0;
