package authyd_test

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// addr is the gRPC address of the sandbox authyd the tests run against: AUTHYD_GRPC_ADDR, or a
// `$AUTHYD_BIN serve` that TestMain starts on port 0 with a fresh --data-dir (sandbox mode) and
// stops at the end.
var addr string

var listening = regexp.MustCompile(`grpc listening on (\S+)`)

func TestMain(m *testing.M) {
	if a := os.Getenv("AUTHYD_GRPC_ADDR"); a != "" {
		addr = a
		os.Exit(m.Run())
	}
	stop, err := startAuthyd()
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting authyd:", err)
		os.Exit(1)
	}
	code := m.Run()
	stop()
	os.Exit(code)
}

func startAuthyd() (stop func(), err error) {
	bin := os.Getenv("AUTHYD_BIN")
	if bin == "" {
		bin = "target/debug/authyd"
	}
	if !filepath.IsAbs(bin) {
		bin = filepath.Join("..", "..", bin) // the repo root, from clients/go
	}
	dataDir, err := os.MkdirTemp("", "authyd-go-client-")
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "serve", "--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0", "--data-dir", dataDir)
	cmd.Env = append(os.Environ(), "AUTHYD_AUTHY_API_KEY=")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	stop = func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
		_ = os.RemoveAll(dataDir)
	}
	found := make(chan string, 1)
	var log strings.Builder
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			log.WriteString(sc.Text() + "\n")
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
				break
			}
		}
		_, _ = io.Copy(io.Discard, stderr) // keep draining: the server must never block on its log
	}()
	select {
	case addr = <-found:
		return stop, nil
	case <-time.After(60 * time.Second):
		stop()
		return nil, fmt.Errorf("no `grpc listening on` line within 60 s:\n%s", log.String())
	}
}
