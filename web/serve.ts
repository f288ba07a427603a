import http from "node:http";
import fs from "node:fs";
import path from "node:path";

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".map": "application/json",
  ".txt": "text/plain; charset=utf-8",
  ".wasm": "application/wasm", // WebAssembly.instantiateStreaming refuses any other type
};

/**
 * A tiny static file server for build/web: GET only, no directory listings, and no path may leave the
 * folder. Port 0 picks a free port; the returned url has the one chosen.
 */
export function serveStatic(
  root: string,
  port: number,
  host = "127.0.0.1",
): Promise<{ server: http.Server; url: string }> {
  const base = path.resolve(root);
  const server = http.createServer((req, res) => {
    const urlPath = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname);
    const file = path.resolve(base, "." + (urlPath.endsWith("/") ? urlPath + "index.html" : urlPath));
    if (req.method !== "GET" && req.method !== "HEAD") return void res.writeHead(405).end();
    if (!file.startsWith(base + path.sep)) return void res.writeHead(403).end();
    fs.readFile(file, (err, body) => {
      if (err) return void res.writeHead(404, { "content-type": "text/plain" }).end(`not found: ${urlPath}`);
      res.writeHead(200, {
        "content-type": TYPES[path.extname(file)] ?? "application/octet-stream",
        "cache-control": "no-store",
      });
      res.end(req.method === "HEAD" ? undefined : body);
    });
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      const addr = server.address();
      const p = typeof addr === "object" && addr ? addr.port : port;
      resolve({ server, url: `http://${host === "0.0.0.0" ? "localhost" : host}:${p}/` });
    });
  });
}
