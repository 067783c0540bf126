package authyd_test

import (
	"context"
	"errors"
	"io"
	"net"
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"

	authyd "github.com/authyd/authyd/clients/go"
	sandboxv1 "github.com/authyd/authyd/clients/go/gen/authyd/sandbox/v1"
	authydv1 "github.com/authyd/authyd/clients/go/gen/authyd/v1"
)

func clients(t *testing.T) (authydv1.TwoFactorServiceClient, sandboxv1.SandboxServiceClient, context.Context) {
	t.Helper()
	conn, err := authyd.NewClient(addr, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return authydv1.NewTwoFactorServiceClient(conn), sandboxv1.NewSandboxServiceClient(conn), ctx
}

func enroll(ctx context.Context, t *testing.T, tf authydv1.TwoFactorServiceClient, userID string) *authydv1.User {
	t.Helper()
	resp, err := tf.Enroll(ctx, &authydv1.EnrollRequest{
		UserId: userID, Email: "alice@example.com", PhoneNumber: "201-555-0123", CountryCode: 1,
	})
	if err != nil {
		t.Fatalf("Enroll: %v", err)
	}
	return resp.GetUser()
}

func TestEnrollAndGetUser(t *testing.T) {
	tf, _, ctx := clients(t)
	user := enroll(ctx, t, tf, "go-enroll")
	if user.GetUserId() != "go-enroll" || user.GetAuthyId() <= 0 || user.GetMaskedPhone() != "XXX-XXX-0123" {
		t.Fatalf("unexpected user %v", user)
	}
	got, err := tf.GetUser(ctx, &authydv1.GetUserRequest{UserId: "go-enroll"})
	if err != nil {
		t.Fatal(err)
	}
	if got.GetUser().GetAuthyId() != user.GetAuthyId() || got.GetUser().GetCountryCode() != 1 {
		t.Fatalf("GetUser %v, enrolled %v", got.GetUser(), user)
	}
}

func TestSmsCodeVerifies(t *testing.T) {
	tf, sb, ctx := clients(t)
	enroll(ctx, t, tf, "go-sms")
	sent, err := tf.SendSms(ctx, &authydv1.SendSmsRequest{UserId: "go-sms", Force: true})
	if err != nil || !sent.GetSent() {
		t.Fatalf("SendSms: %v %v", sent, err)
	}
	codes, err := sb.GetCodes(ctx, &sandboxv1.GetCodesRequest{UserId: "go-sms"})
	if err != nil || len(codes.GetSmsCode()) < 6 {
		t.Fatalf("GetCodes: %v %v", codes, err)
	}
	wrong := "0000000"
	if codes.GetSmsCode() == wrong {
		wrong = "1111111"
	}
	for _, c := range []struct {
		token string
		valid bool
	}{{wrong, false}, {codes.GetSmsCode(), true}} {
		resp, err := tf.VerifyToken(ctx, &authydv1.VerifyTokenRequest{UserId: "go-sms", Token: c.token})
		if err != nil {
			t.Fatalf("VerifyToken(%q): %v", c.token, err)
		}
		if resp.GetValid() != c.valid {
			t.Fatalf("VerifyToken(%q) valid=%v, want %v", c.token, resp.GetValid(), c.valid)
		}
	}
}

func TestWatchApprovalPendingThenApproved(t *testing.T) {
	tf, sb, ctx := clients(t)
	enroll(ctx, t, tf, "go-approve")
	req, err := tf.RequestApproval(ctx, &authydv1.RequestApprovalRequest{
		UserId: "go-approve", Message: "Log in?", Details: map[string]string{"ip": "203.0.113.7"}, RequestId: "go-login-1",
	})
	if err != nil {
		t.Fatal(err)
	}
	id := req.GetApproval().GetApprovalId()
	stream, err := tf.WatchApproval(ctx, &authydv1.WatchApprovalRequest{ApprovalId: id})
	if err != nil {
		t.Fatal(err)
	}
	var states []authydv1.ApprovalState
	for {
		msg, err := stream.Recv()
		if err != nil {
			if len(states) > 0 && authyd.IsFinal(states[len(states)-1]) && errors.Is(err, io.EOF) {
				break
			}
			t.Fatalf("Recv after %v: %v", states, err)
		}
		states = append(states, msg.GetApproval().GetState())
		if msg.GetApproval().GetState() == authydv1.ApprovalState_APPROVAL_STATE_PENDING {
			if _, err := sb.AnswerApproval(ctx, &sandboxv1.AnswerApprovalRequest{ApprovalId: id, Approve: true}); err != nil {
				t.Fatal(err)
			}
		}
	}
	want := []authydv1.ApprovalState{authydv1.ApprovalState_APPROVAL_STATE_PENDING, authydv1.ApprovalState_APPROVAL_STATE_APPROVED}
	if !slices.Equal(states, want) {
		t.Fatalf("states %v, want %v", states, want)
	}
}

func TestInvalidArgumentFieldViolations(t *testing.T) {
	tf, _, ctx := clients(t)
	_, err := tf.Enroll(ctx, &authydv1.EnrollRequest{UserId: "go-bob", Email: "bob@", PhoneNumber: "201-555-0123", CountryCode: 1})
	d := authyd.DetailsOf(err)
	if d.Code != codes.InvalidArgument || d.Domain != "authyd" {
		t.Fatalf("got %+v", d)
	}
	if len(d.FieldViolations) != 1 || d.FieldViolations[0].Field != "email" || d.FieldViolations[0].Description == "" {
		t.Fatalf("field violations %+v, want one for email", d.FieldViolations)
	}
}

func TestNotFoundReason(t *testing.T) {
	tf, _, ctx := clients(t)
	_, err := tf.GetUser(ctx, &authydv1.GetUserRequest{UserId: "go-nobody"})
	d := authyd.DetailsOf(err)
	if d.Code != codes.NotFound || d.Reason != "USER_NOT_FOUND" || d.Domain != "authyd" || len(d.FieldViolations) != 0 {
		t.Fatalf("got %+v", d)
	}
}

// recorder is a stand-in TwoFactorService that keeps the metadata of GetUser: the sandbox takes
// any caller, so only a server of our own shows what the client sends.
type recorder struct {
	authydv1.UnimplementedTwoFactorServiceServer
	md metadata.MD
}

func (r *recorder) GetUser(ctx context.Context, req *authydv1.GetUserRequest) (*authydv1.GetUserResponse, error) {
	r.md, _ = metadata.FromIncomingContext(ctx)
	return &authydv1.GetUserResponse{User: &authydv1.User{UserId: req.GetUserId()}}, nil
}

func TestAPIKeyIsSentAsBearer(t *testing.T) {
	for _, key := range []string{"", "k-123"} {
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		rec := &recorder{}
		srv := grpc.NewServer()
		authydv1.RegisterTwoFactorServiceServer(srv, rec)
		go func() { _ = srv.Serve(lis) }()
		conn, err := authyd.NewClient(lis.Addr().String(), key)
		if err != nil {
			t.Fatal(err)
		}
		_, err = authydv1.NewTwoFactorServiceClient(conn).GetUser(context.Background(), &authydv1.GetUserRequest{UserId: "u1"})
		_ = conn.Close()
		srv.Stop()
		if err != nil {
			t.Fatal(err)
		}
		want := []string(nil)
		if key != "" {
			want = []string{"Bearer " + key}
		}
		if got := rec.md.Get("authorization"); !slices.Equal(got, want) {
			t.Fatalf("key %q: authorization %v, want %v", key, got, want)
		}
	}
}
