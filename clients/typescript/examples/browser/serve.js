// A static server for the page: / is index.html, /main.js the esbuild bundle. Listens on
// BROWSER_EXAMPLE_ADDR (default 127.0.0.1:0) and logs `static listening on http://HOST:PORT`.
import { readFile } from "node:fs/promises";
import { createServer } from "node:http";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const files = {
  "/": ["index.html", "text/html; charset=utf-8"],
  "/main.js": ["dist/main.js", "text/javascript; charset=utf-8"],
  "/main.js.map": ["dist/main.js.map", "application/json"],
};

const server = createServer(async (req, res) => {
  const file = files[new URL(req.url ?? "/", "http://x").pathname];
  if (req.method !== "GET" || file === undefined) {
    res.writeHead(404).end("not found\n");
    return;
  }
  try {
    const body = await readFile(join(here, file[0]));
    res.writeHead(200, { "content-type": file[1], "cache-control": "no-store" }).end(body);
  } catch (e) {
    res.writeHead(500).end(`${e}\n`);
  }
});
const [host, port] = (process.env.BROWSER_EXAMPLE_ADDR ?? "127.0.0.1:0").split(/:(?=\d+$)/);
server.listen(Number(port), host, () => {
  const { address, port: bound } = server.address();
  console.log(`static listening on http://${address}:${bound}`);
});
