// Package authyd is the Go client of authyd: the generated stubs of authyd.v1.TwoFactorService
// (package github.com/authyd/authyd/clients/go/gen/authyd/v1) and authyd.sandbox.v1.SandboxService
// (.../gen/authyd/sandbox/v1), plus a few helpers: a connection that sends a caller key, and the
// decoding of the google.rpc details authyd attaches to every error.
//
// The gen/ tree is written by scripts/generate and never edited.
package authyd

import (
	"context"
	"errors"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	authydv1 "github.com/authyd/authyd/clients/go/gen/authyd/v1"
)

// BearerKey is a caller key (from `authyd keys create`) as per-RPC credentials: every call sends
// `authorization: Bearer <key>`. authyd serves plaintext gRPC (TLS is its terminator's job), so
// it does not require transport security.
type BearerKey string

// GetRequestMetadata implements credentials.PerRPCCredentials.
func (k BearerKey) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	if k == "" {
		return nil, errors.New("authyd: empty API key")
	}
	return map[string]string{"authorization": "Bearer " + string(k)}, nil
}

// RequireTransportSecurity implements credentials.PerRPCCredentials.
func (BearerKey) RequireTransportSecurity() bool { return false }

// NewClient opens a plaintext connection to authyd at addr ("host:port"). A non-empty apiKey is
// sent with every call (the sandbox needs none). More options (interceptors, ...) go in opts.
func NewClient(addr, apiKey string, opts ...grpc.DialOption) (*grpc.ClientConn, error) {
	all := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	if apiKey != "" {
		all = append(all, grpc.WithPerRPCCredentials(BearerKey(apiKey)))
	}
	return grpc.NewClient(addr, append(all, opts...)...)
}

// IsFinal reports whether an approval state is terminal (APPROVED, DENIED or EXPIRED).
func IsFinal(s authydv1.ApprovalState) bool {
	switch s {
	case authydv1.ApprovalState_APPROVAL_STATE_APPROVED, authydv1.ApprovalState_APPROVAL_STATE_DENIED,
		authydv1.ApprovalState_APPROVAL_STATE_EXPIRED:
		return true
	}
	return false
}

// FieldViolation is one rejected request field (google.rpc.BadRequest.FieldViolation).
type FieldViolation struct {
	Field       string // the request field, e.g. "email" or "details[ip]"
	Description string // what is wrong (never echoes the value)
}

// ErrorDetails is what authyd says about a failed call.
type ErrorDetails struct {
	Code            codes.Code
	Message         string
	Reason          string            // ErrorInfo.reason, e.g. "USER_NOT_FOUND"; "" without ErrorInfo
	Domain          string            // ErrorInfo.domain: "authyd"
	Metadata        map[string]string // ErrorInfo.metadata
	FieldViolations []FieldViolation  // BadRequest (INVALID_ARGUMENT)
	RetryDelay      time.Duration     // RetryInfo.retry_delay; 0 when absent
}

// DetailsOf decodes the gRPC status of err (status.FromError) and its google.rpc details.
// A nil err gives Code OK; an error that is not a gRPC status gives Code Unknown.
func DetailsOf(err error) ErrorDetails {
	st, _ := status.FromError(err)
	d := ErrorDetails{Code: st.Code(), Message: st.Message()}
	for _, detail := range st.Details() {
		switch v := detail.(type) {
		case *errdetails.ErrorInfo:
			d.Reason, d.Domain, d.Metadata = v.GetReason(), v.GetDomain(), v.GetMetadata()
		case *errdetails.BadRequest:
			for _, fv := range v.GetFieldViolations() {
				d.FieldViolations = append(d.FieldViolations, FieldViolation{fv.GetField(), fv.GetDescription()})
			}
		case *errdetails.RetryInfo:
			d.RetryDelay = v.GetRetryDelay().AsDuration()
		}
	}
	return d
}
