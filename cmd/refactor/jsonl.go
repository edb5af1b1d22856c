package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"iter"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/re-factor/resources/store"
)

// maxLineBytes bounds one JSON Lines record: metadata may be 64 KiB, and
// escaping can double it.
const maxLineBytes = 1 << 20

// importGCPercent is the garbage collector's GOGC during an import.
const importGCPercent = 400

func importCmd(ctx context.Context, cfg config, args []string, stdin io.Reader, stderr io.Writer) error {
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("file", "", "JSON Lines file to load, - for stdin (required)")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	in, closeIn, err := openInput(*file, stdin)
	if err != nil {
		return err
	}
	defer closeIn()
	db, err := openDB(ctx, forBatch(cfg))
	if err != nil {
		return err
	}
	defer db.Close()
	// An import allocates fast and keeps little: two batches. Collecting
	// four times less often saves a tenth of its CPU for ~100 MB more heap.
	defer debug.SetGCPercent(debug.SetGCPercent(importGCPercent))
	counted := &countingReader{r: in}
	p := startProgress(stderr, "read", inputSize(in), counted.n.Load)
	var steps []step
	n, err := db.ImportResources(ctx, countRows(decodeLines(counted), p), store.WithImportSteps(func(name string) {
		p.beginStep(name)
		steps = append(steps, *p.step.Load())
	}))
	p.finish()
	switch {
	case err != nil && n > 0:
		return fmt.Errorf("import: %w", err)
	case err != nil:
		return fmt.Errorf("import: nothing loaded: %w", err)
	}
	fmt.Fprintf(stderr, "imported %d resources (%s)\n", n, stepTimes(steps, time.Since(p.start)))
	return nil
}

// stepTimes says how long the load and each step after it took, from the
// steps' starts and the time the last ended.
func stepTimes(steps []step, end time.Duration) string {
	parts := make([]string, 0, len(steps)+1)
	name, from := "loaded", time.Duration(0)
	for _, st := range steps {
		parts = append(parts, fmt.Sprintf("%s in %.1fs", name, (st.after-from).Seconds()))
		name, from = st.name, st.after
	}
	parts = append(parts, fmt.Sprintf("%s in %.1fs", name, (end-from).Seconds()))
	return strings.Join(parts, ", ")
}

func openInput(name string, stdin io.Reader) (io.Reader, func(), error) {
	switch name {
	case "":
		return nil, nil, fmt.Errorf("import: --file is required (- for stdin)")
	case "-":
		return stdin, func() {}, nil
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, nil, fmt.Errorf("import: %w", err)
	}
	return f, func() { f.Close() }, nil
}

// decodeLines yields one resource per non-blank line; an error names the
// line it came from and stops the sequence.
func decodeLines(r io.Reader) iter.Seq2[store.Resource, error] {
	return func(yield func(store.Resource, error) bool) {
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), maxLineBytes)
		for line := 1; sc.Scan(); line++ {
			if len(sc.Bytes()) == 0 {
				continue
			}
			res, err := store.DecodeResourceLine(sc.Bytes())
			if err != nil {
				yield(store.Resource{}, fmt.Errorf("line %d: %w", line, err))
				return
			}
			if !yield(res, nil) {
				return
			}
		}
		if err := sc.Err(); err != nil {
			yield(store.Resource{}, fmt.Errorf("reading input: %w", err))
		}
	}
}

func exportCmd(ctx context.Context, cfg config, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("export", flag.ContinueOnError)
	account := fs.String("account", "", "only this account's resources (default: all)")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	db, err := openDB(ctx, forBatch(cfg))
	if err != nil {
		return err
	}
	defer db.Close()
	w := bufio.NewWriterSize(stdout, 256<<10)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	p := startProgress(stderr, "exported", 0, nil)
	defer p.finish()
	if err := db.ExportResources(ctx, *account, func(r store.Resource) error {
		p.add(1)
		return enc.Encode(r)
	}); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	return w.Flush()
}
