package resilience

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"flag"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/re-factor/resources"
)

var roundTripRows = flag.Int("roundtrip.rows", 10_000, "rows in TestExportImportRoundTrip (1000000 by hand)")

// TestExportImportRoundTrip loads a generated dataset with `refactor
// import`, exports it, imports the export into a second PostgreSQL database
// and into SQLite, and exports those: the exports are byte for byte the
// same, and hold exactly the generated resources.
func TestExportImportRoundTrip(t *testing.T) {
	c := newCluster(t)
	dir := t.TempDir()
	in := filepath.Join(dir, "in.jsonl")
	inDigest := writeDataset(t, in, *roundTripRows)

	dbA, dbB := createDB(t, c, "a"), createDB(t, c, "b")
	dbC := "sqlite:" + filepath.Join(dir, "c.db")
	start := time.Now()
	runCmd(t, dbA, "", "import", "--file", in)
	outA := filepath.Join(dir, "a.jsonl")
	runCmd(t, dbA, outA, "export")
	for _, db := range []string{dbB, dbC} {
		runCmd(t, db, "", "import", "--file", outA)
	}
	outB, outC := filepath.Join(dir, "b.jsonl"), filepath.Join(dir, "c.jsonl")
	runCmd(t, dbB, outB, "export")
	runCmd(t, dbC, outC, "export")
	t.Logf("%d rows: import, export, two imports and two exports took %v", *roundTripRows, time.Since(start).Round(time.Millisecond))

	a := fileDigest(t, outA)
	for _, out := range []string{outB, outC} {
		if d := fileDigest(t, out); d != a {
			t.Errorf("%s differs from the first export", filepath.Base(out))
		}
	}
	if got := linesDigest(t, outA); got != inDigest {
		t.Errorf("the export holds %d resources (digest %x), want the %d generated (digest %x)", got.n, got.sum, inDigest.n, inDigest.sum)
	}
}

// digest identifies a set of resources whatever their order: the count and
// the XOR of each one's line's sha256 (ids are unique). Import and export
// share one codec (resources.EncodeLine), so a resource has one line.
type digest struct {
	n   int
	sum [32]byte
}

func (d *digest) add(line []byte) {
	h := sha256.Sum256(line)
	for i := range h {
		d.sum[i] ^= h[i]
	}
	d.n++
}

// writeDataset writes n varied resources across accounts as JSON Lines.
func writeDataset(t *testing.T, path string, n int) digest {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	rng := mrand.New(mrand.NewPCG(1, 2))
	var d digest
	base := time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range n {
		created := base.Add(time.Duration(rng.Int64N(int64(400 * 24 * time.Hour)))).Truncate(time.Microsecond)
		r := resources.Resource{
			ID: uuid.NewString(), AccountID: fmt.Sprintf("acct-%d", i%17),
			Name:          fmt.Sprintf("file <%d> & \"ß\" %d.txt", rng.IntN(1000), i),
			DirectoryPath: []string{"/", "/a", "/a/b c", "/ü/%_", "/x\\y"}[rng.IntN(5)],
			MimeType:      "text/plain; charset=utf-8", SHA256: fmt.Sprintf("%064x", rng.Uint64()),
			StorageBucket: "bucket", StorageKey: fmt.Sprintf("k/%d", i), SizeBytes: rng.Int64N(1 << 40),
			Tags:      []string{},
			CreatedAt: created, UpdatedAt: created.Add(time.Duration(rng.IntN(1000)) * time.Second),
		}
		if rng.IntN(2) == 0 {
			r.Tags = []string{"a", "b", "é"}[:1+rng.IntN(3)]
		}
		if rng.IntN(3) == 0 {
			r.Metadata = json.RawMessage(fmt.Sprintf(`{"n":%d,"s":"<v>","nested":{"list":[1,2.5,null,true]}}`, i))
		}
		if rng.IntN(4) == 0 {
			uri, by, ext, typ := "https://example.com/f?q=1&r=2", "user-1", "ext-1", "s3"
			r.OriginalURI, r.CreatedBy, r.ExternalID, r.ExternalStorageType = &uri, &by, &ext, &typ
		}
		var line bytes.Buffer
		if err := resources.EncodeLine(&line, r); err != nil {
			t.Fatal(err)
		}
		w.Write(line.Bytes())
		d.add(line.Bytes())
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return d
}

// linesDigest is the digest of the lines of the JSON Lines file at path.
func linesDigest(t *testing.T, path string) digest {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var d digest
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		d.add(append(sc.Bytes(), '\n'))
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return d
}

func fileDigest(t *testing.T, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) == 0 {
		t.Fatalf("%s is empty", path)
	}
	return sha256.Sum256(b)
}

// createDB creates a database in the cluster and returns its URL.
func createDB(t *testing.T, c *cluster, name string) string {
	t.Helper()
	db, err := sql.Open("postgres", c.url())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE DATABASE ` + name); err != nil {
		t.Fatal(err)
	}
	return strings.Replace(c.url(), "/postgres?", "/"+name+"?", 1)
}

// runCmd runs a refactor command on dbURL, its stdout to the file out when
// out is not empty.
func runCmd(t *testing.T, dbURL, out string, args ...string) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	// Batch commands get a generous statement timeout: at 1,000,000 rows a
	// SQLite import batch has been seen to pass the 5 s default.
	cmd.Env = append(os.Environ(), "DATABASE_URL="+dbURL, "DB_STATEMENT_TIMEOUT=2m")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if out != "" {
		f, err := os.Create(out)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		cmd.Stdout = f
	}
	if err := cmd.Run(); err != nil {
		t.Fatalf("refactor %v on %s: %v\n%s", args, dbURL, err, tail(stderr.String(), 2000))
	}
}
