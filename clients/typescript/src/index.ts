// @authyd/client for Node: gRPC (HTTP/2) or gRPC-Web (HTTP/1.1) transports from connect-node.
// Browsers import "@authyd/client/web" instead.
import { createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import type { Transport } from "@connectrpc/connect";
import { clientsOn, interceptorsFor, type AuthydClient, type CommonOptions } from "./common.js";

export * from "./common.js";
export * from "./gen/authyd/v1/two_factor_pb.js";
export * as sandbox from "./gen/authyd/sandbox/v1/sandbox_pb.js";
export * as rpc from "./gen/google/rpc/error_details_pb.js";
export { Code, ConnectError } from "@connectrpc/connect";

/** Options of createAuthydClient for Node. */
export interface AuthydClientOptions extends CommonOptions {
  /** `grpc` (HTTP/2, the default) or `grpc-web` (over HTTP/1.1, e.g. through an HTTP/1.1-only proxy). */
  transport?: "grpc" | "grpc-web";
}

/** The connect-node transport createAuthydClient uses. */
export function createAuthydTransport(options: AuthydClientOptions): Transport {
  const interceptors = interceptorsFor(options);
  switch (options.transport ?? "grpc") {
    case "grpc":
      return createGrpcTransport({ baseUrl: options.baseUrl, interceptors });
    case "grpc-web":
      return createGrpcWebTransport({ baseUrl: options.baseUrl, httpVersion: "1.1", interceptors });
    default:
      throw new Error(`unknown transport ${String(options.transport)}: use "grpc" or "grpc-web"`);
  }
}

/** Clients of TwoFactorService (and, for a sandbox authyd, SandboxService) for Node. */
export function createAuthydClient(options: AuthydClientOptions): AuthydClient {
  return clientsOn(createAuthydTransport(options));
}
