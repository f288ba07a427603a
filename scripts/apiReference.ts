/**
 * The API reference (docs/api.md), generated from the package's entry points and the doc comments of
 * what they export, with the TypeScript compiler's own reading of the sources. `npm run docs` rewrites
 * the page; test/docs/apiReference.test.ts fails when the page is stale or an export has no doc comment.
 */
import fs from "node:fs";
import path from "node:path";
import ts from "typescript";

/** The package's entry points: the import a user writes, and the source file behind it. */
export const ENTRY_POINTS: readonly { readonly specifier: string; readonly file: string }[] = [
  { specifier: "rankfuse", file: "index.ts" },
  { specifier: "rankfuse/models", file: "models.ts" },
  { specifier: "rankfuse/methods", file: "methods.ts" },
  { specifier: "rankfuse/train", file: "train.ts" },
  { specifier: "rankfuse/testing", file: "testing.ts" },
  { specifier: "rankfuse/backend-api", file: "backendApi.ts" },
];

/** One exported name: what it is, where it is defined, and its doc comment (empty when it has none). */
export interface ApiEntry {
  readonly name: string;
  readonly kind: string;
  readonly definedIn: string;
  readonly doc: string;
}

const KINDS: [ts.SymbolFlags, string][] = [
  [ts.SymbolFlags.Class, "class"],
  [ts.SymbolFlags.Function, "function"],
  [ts.SymbolFlags.Interface, "interface"],
  [ts.SymbolFlags.TypeAlias, "type"],
  [ts.SymbolFlags.Enum, "enum"],
  [ts.SymbolFlags.Variable, "const"],
];

const kindOf = (s: ts.Symbol): string => KINDS.find(([f]) => s.flags & f)?.[1] ?? "value";

/** Every export of every entry point, in the order the entry files list them. */
export function readApi(root: string): Map<string, ApiEntry[]> {
  const files = ENTRY_POINTS.map((e) => path.join(root, e.file));
  const program = ts.createProgram(files, {
    allowImportingTsExtensions: true,
    noEmit: true,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    skipLibCheck: true,
    types: ["node"],
  });
  const checker = program.getTypeChecker();
  const out = new Map<string, ApiEntry[]>();
  for (const entry of ENTRY_POINTS) {
    const source = program.getSourceFile(path.join(root, entry.file));
    const moduleSymbol = source && checker.getSymbolAtLocation(source);
    if (!moduleSymbol) throw new Error(`${entry.file}: not a module`);
    const entries = checker.getExportsOfModule(moduleSymbol).map((exported) => {
      const target = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
      const decl = target.declarations?.[0];
      const doc = ts.displayPartsToString(target.getDocumentationComment(checker)).trim();
      const definedIn = decl ? path.relative(root, decl.getSourceFile().fileName) : "?";
      return { name: exported.name, kind: kindOf(target), definedIn, doc };
    });
    out.set(entry.specifier, entries);
  }
  return out;
}

/** A doc comment's first sentence (its first paragraph when that has no full stop), on one line. */
const summary = (doc: string): string => {
  const para = doc
    .split(/\n\s*\n/)[0]!
    .replace(/\s+/g, " ")
    .trim();
  const end = para.search(/\.(\s|$)/);
  return end < 0 ? para : para.slice(0, end + 1);
};

/** docs/api.md's text. */
export function renderApi(api: Map<string, ApiEntry[]>): string {
  const lines = [
    "# API reference",
    "",
    "Generated from the entry points and their doc comments by `npm run docs` (scripts/apiReference.ts);",
    "do not edit by hand. Everything not listed here is internal. docs/architecture.md explains the layers.",
    "",
  ];
  for (const [specifier, entries] of api) {
    lines.push(`## \`${specifier}\``, "", "| name | kind | summary | defined in |", "|---|---|---|---|");
    for (const e of [...entries].sort((a, b) => a.name.localeCompare(b.name))) {
      lines.push(`| \`${e.name}\` | ${e.kind} | ${summary(e.doc).replace(/\|/g, "\\|")} | ${e.definedIn} |`);
    }
    lines.push("");
  }
  return lines.join("\n");
}

/** The page's path under a checkout. */
export const apiPagePath = (root: string): string => path.join(root, "docs", "api.md");

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) {
  const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");
  const api = readApi(root);
  fs.writeFileSync(apiPagePath(root), renderApi(api));
  const missing = [...api.entries()].flatMap(([s, es]) => es.filter((e) => !e.doc).map((e) => `${s}: ${e.name}`));
  console.log(`docs/api.md: ${[...api.values()].reduce((n, es) => n + es.length, 0)} exports`);
  if (missing.length) console.log(`without a doc comment:\n  ${missing.join("\n  ")}`);
}
