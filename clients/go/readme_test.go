package authyd_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

var readmeBlock = regexp.MustCompile("(?s)<!-- readme-example -->\\s*```go\\n(.*?)```\\s*<!-- /readme-example -->")

// TestReadmeExample runs README.md's example as written (`go run`, inside this module so its
// imports resolve here) against the live sandbox and checks what the README says it prints.
func TestReadmeExample(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := readmeBlock.FindSubmatch(readme)
	if m == nil {
		t.Fatal("README.md has no ```go block between <!-- readme-example --> markers")
	}
	// A directory starting with "_" is ignored by `go build ./...` and `go test ./...`.
	dir, err := os.MkdirTemp(".", "_readme-example-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	main := filepath.Join(dir, "main.go")
	if err := os.WriteFile(main, m[1], 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "run", "./"+filepath.ToSlash(dir))
	cmd.Env = append(os.Environ(), "AUTHYD_GRPC_ADDR="+addr)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go run of the README example: %v\n%s", err, out)
	}
	got := strings.Split(strings.TrimSpace(string(out)), "\n")
	if want := []string{"valid: true", "NotFound USER_NOT_FOUND"}; !slices.Equal(got, want) {
		t.Fatalf("README example printed %q, want %q", got, want)
	}
}
