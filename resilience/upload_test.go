package resilience

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/re-factor/resources/internal/testkit"
)

// pythonPOST sends a POST of size bytes with Python's urllib, which writes
// the whole body before it reads anything, and prints the answer as JSON.
const pythonPOST = `
import json, sys, urllib.request, urllib.error
url, token, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
body = b'{' + b' ' * (size - 2) + b'}'
req = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": "application/json"})
if token:
    req.add_header("Authorization", "Bearer " + token)
try:
    with urllib.request.urlopen(req, timeout=60) as resp:
        status, answer = resp.status, resp.read()
except urllib.error.HTTPError as e:
    status, answer = e.code, e.read()
print(json.dumps({"status": status, "body": answer.decode()}))
`

// TestWholeBodyClients sends large bodies with Python's urllib to the
// binary, as issue 9 did: the early answers (401 before the body is read,
// 413 for a declared length past the limit) must reach it, where a
// connection reset used to.
func TestWholeBodyClients(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		testkit.Unavailable(t, "python3 is missing")
	}
	srv := startServer(t, "DATABASE_URL=sqlite:"+filepath.Join(t.TempDir(), "db"), "BLOB_URL=file://"+t.TempDir())
	for _, tt := range []struct {
		name   string
		token  string
		size   int
		status int
	}{
		{"anonymous, 24 MiB", "", 24 << 20, 401},
		{"30 MiB of content, past the limit", token(t, "acct"), 40 << 20, 413},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out, err := exec.Command(python, "-c", pythonPOST, srv.URL+"/v1/resources", tt.token, strconv.Itoa(tt.size)).CombinedOutput()
			if err != nil {
				t.Fatalf("urllib got no answer: %v\n%s", err, tail(string(out), 5))
			}
			var got struct {
				Status int    `json:"status"`
				Body   string `json:"body"`
			}
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatalf("python printed %s: %v", out, err)
			}
			if got.Status != tt.status || !isErrorBody([]byte(got.Body)) {
				t.Errorf("urllib got %d %s, want %d {\"error\"}", got.Status, strings.TrimSpace(got.Body), tt.status)
			}
		})
	}
}
