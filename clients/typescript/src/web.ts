// @authyd/client/web for browsers: gRPC-Web over fetch (connect-web). authyd must list the page's
// origin in --cors-origins.
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import { clientsOn, interceptorsFor, type AuthydClient, type CommonOptions } from "./common.js";

export * from "./common.js";
export * from "./gen/authyd/v1/two_factor_pb.js";
export * as sandbox from "./gen/authyd/sandbox/v1/sandbox_pb.js";
export * as rpc from "./gen/google/rpc/error_details_pb.js";
export { Code, ConnectError } from "@connectrpc/connect";

/** Clients of TwoFactorService (and, for a sandbox authyd, SandboxService) over gRPC-Web with fetch. */
export function createAuthydClient(options: CommonOptions): AuthydClient {
  return clientsOn(createGrpcWebTransport({ baseUrl: options.baseUrl, interceptors: interceptorsFor(options) }));
}
