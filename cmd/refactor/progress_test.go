package main

import (
	"bytes"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/re-factor/resources/store"
)

func TestProgressLine(t *testing.T) {
	done := int64(0)
	tests := []struct {
		name    string
		total   int64
		done    int64
		rows    int64
		elapsed time.Duration
		want    string
	}{
		{"unknown total", 0, 0, 500, 2 * time.Second, "imported 500 rows, 250 rows/s"},
		{"a quarter done", 1000, 250, 100, 10 * time.Second, "imported 100 rows, 10 rows/s, 25%, 30s left"},
		{"all done", 1000, 1000, 400, 4 * time.Second, "imported 400 rows, 100 rows/s, 100%"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			p := startProgress(&buf, "imported", tc.total, func() int64 { return done })
			done = tc.done
			p.add(tc.rows)
			if got := p.line(tc.elapsed); got != tc.want {
				t.Errorf("line = %q, want %q", got, tc.want)
			}
			p.finish()
		})
	}
}

// TestProgressQuietWhenNotATerminal keeps pipes, files and test buffers free
// of progress lines.
func TestProgressQuietWhenNotATerminal(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "stderr")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var buf bytes.Buffer
	for _, w := range []io.Writer{&buf, f} {
		if isTerminal(w) {
			t.Errorf("%T counts as a terminal", w)
		}
	}
	p := startProgress(f, "exported", 0, nil)
	p.add(3)
	time.Sleep(2 * progressInterval)
	p.finish()
	if b, _ := os.ReadFile(f.Name()); len(b) != 0 {
		t.Errorf("wrote %q to a file", b)
	}
	c := newCLI(t, "sqlite")
	if _, errOut, err := c.run(demoInput(t), "import", "--file", "-"); err != nil || strings.Contains(errOut, "rows/s") {
		t.Errorf("import to a buffer: %v, stderr %q", err, errOut)
	}
}

func TestProgressStep(t *testing.T) {
	p := startProgress(io.Discard, "read", 0, nil)
	defer p.finish()
	p.add(400)
	p.step.Store(&step{name: store.StepAnalyse, after: 4 * time.Second})
	if got, want := p.line(6*time.Second), "read 400 rows; analysing, 2s"; got != want {
		t.Errorf("line = %q, want %q", got, want)
	}
}

func TestStepTimes(t *testing.T) {
	tests := []struct {
		steps []step
		end   time.Duration
		want  string
	}{
		{nil, 1500 * time.Millisecond, "loaded in 1.5s"},
		{[]step{{store.StepAnalyse, 3 * time.Second}}, 4 * time.Second, "loaded in 3.0s, analysing in 1.0s"},
		{[]step{{store.StepCheckKeys, 10 * time.Second}, {store.StepAnalyse, 12 * time.Second}}, 13500 * time.Millisecond,
			"loaded in 10.0s, indexing and checking keys in 2.0s, analysing in 1.5s"},
	}
	for _, tc := range tests {
		if got := stepTimes(tc.steps, tc.end); got != tc.want {
			t.Errorf("stepTimes(%v, %v) = %q, want %q", tc.steps, tc.end, got, tc.want)
		}
	}
}
