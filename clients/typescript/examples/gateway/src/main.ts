// Starts the gateway. Configuration from the environment:
//   AUTHYD_GRPC_ADDR       authyd's gRPC address (default 127.0.0.1:50051)
//   AUTHYD_API_KEY         a caller key from `authyd keys create` (not needed against a sandbox)
//   GATEWAY_ADDR           where to listen (default 127.0.0.1:3000; port 0 picks a free port)
//   GATEWAY_SECURE_COOKIE  1 when users reach the gateway over HTTPS (marks the cookie Secure)
//   GATEWAY_APPROVAL_TTL   seconds to answer a OneTouch push (default 120)
//   GATEWAY_QR_TTL         seconds a registration QR code can be scanned (default 300)
// Logs `gateway listening on http://ADDR` once bound; stops on SIGTERM / SIGINT.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { createAuthydClient } from "@authyd/client";
import { createGateway } from "./app.js";

function hostPort(addr: string): { host: string; port: number } {
  const i = addr.lastIndexOf(":");
  const port = Number(addr.slice(i + 1));
  if (i < 0 || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`GATEWAY_ADDR must be HOST:PORT, got ${JSON.stringify(addr)}`);
  }
  return { host: addr.slice(0, i).replace(/^\[|\]$/g, ""), port };
}

const authydAddr = process.env.AUTHYD_GRPC_ADDR || "127.0.0.1:50051";
const apiKey = process.env.AUTHYD_API_KEY || undefined;
const { host, port } = hostPort(process.env.GATEWAY_ADDR || "127.0.0.1:3000");

function seconds(name: string, fallback: number): number {
  const raw = process.env[name];
  const n = raw === undefined || raw === "" ? fallback : Number(raw);
  if (!Number.isInteger(n) || n < 1) {
    throw new Error(`${name} must be a whole number of seconds, got ${JSON.stringify(raw)}`);
  }
  return n;
}

const { twoFactor } = createAuthydClient({
  baseUrl: authydAddr.includes("://") ? authydAddr : `http://${authydAddr}`,
  apiKey,
});
const gateway = createGateway({
  twoFactor,
  secureCookie: process.env.GATEWAY_SECURE_COOKIE === "1",
  approvalTtlSeconds: seconds("GATEWAY_APPROVAL_TTL", 120),
  registrationTtlSeconds: seconds("GATEWAY_QR_TTL", 300),
});
const server = createServer(gateway.handler);

server.listen(port, host, () => {
  const a = server.address() as AddressInfo;
  const shown = a.family === "IPv6" ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
  console.log(`gateway listening on http://${shown} (authyd at ${authydAddr})`);
});

function stop(signal: string): void {
  console.log(`gateway: ${signal}, shutting down`);
  gateway.close();
  server.close(() => process.exit(0));
  server.closeAllConnections(); // event streams would otherwise keep it open
  setTimeout(() => process.exit(0), 2000).unref();
}
process.once("SIGTERM", () => stop("SIGTERM"));
process.once("SIGINT", () => stop("SIGINT"));
