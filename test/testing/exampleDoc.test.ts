import { describe, expect, it } from "vitest";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");

/** The code lines of the example in testing.ts's doc comment (its indented block after "A property test"). */
function docExample(): string[] {
  const doc = fs.readFileSync(path.join(ROOT, "testing.ts"), "utf8").split("*/")[0]!;
  const block = doc.slice(doc.indexOf("A property test"));
  return block
    .split("\n")
    .slice(1)
    .map((l) => l.replace(/^ \*( {3})?/, ""));
}
const code = (lines: string[]) => lines.filter((l) => l.trim() !== "" && !l.startsWith("import "));

describe("the rankfuse/testing example", () => {
  it("is under 15 lines and imports only the public entry points", () => {
    const lines = docExample().filter((l) => l.trim() !== "");
    expect(lines.length).toBeLessThan(15);
    const from = lines.filter((l) => l.startsWith("import ")).map((l) => /from "([^"]+)"/.exec(l)![1]);
    expect(from).toEqual(["vitest", "fast-check", "rankfuse", "rankfuse/testing"]);
  });

  it("is what test/testing/example.test.ts runs, line for line after its imports", () => {
    const test = fs.readFileSync(path.join(ROOT, "test", "testing", "example.test.ts"), "utf8").split("\n");
    const body = test.slice(test.indexOf("// the example:") + 1);
    expect(code(body)).toEqual(code(docExample()));
  });

  it("is the README's example too", () => {
    const readme = fs.readFileSync(path.join(ROOT, "README.md"), "utf8");
    const section = readme.slice(readme.indexOf("## Testing and benchmarking your own layers"));
    const block = section.slice(section.indexOf("```ts\n") + 6, section.indexOf("\n```", section.indexOf("```ts")));
    const nonEmpty = (lines: string[]) => lines.filter((l) => l.trim() !== "");
    expect(nonEmpty(block.split("\n"))).toEqual(nonEmpty(docExample()));
  });
});
