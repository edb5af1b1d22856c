package main

import (
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"time"
)

// progressInterval is how often a progress line is redrawn.
const progressInterval = 250 * time.Millisecond

// progress shows how an import or export is going on one terminal line:
// rows done, their rate and, when the size of the work is known, the time
// left. It draws only on a terminal, so logs and pipes stay clean.
type progress struct {
	w     io.Writer
	verb  string       // "imported", "exported"
	rows  atomic.Int64 // rows so far
	done  func() int64 // units of work done so far, when total > 0
	total int64        // units of work in all, 0 when unknown
	start time.Time
	step  atomic.Pointer[step] // the step after the rows under way, if any
	stop  chan struct{}
	ended chan struct{}
}

// step is a named step of the work after its rows, such as analysing the
// tables an import loaded, begun at after the start.
type step struct {
	name  string
	after time.Duration
}

// startProgress starts redrawing on w if it is a terminal; otherwise the
// returned progress only counts. total and done measure the work (bytes of
// input, say) when total > 0.
func startProgress(w io.Writer, verb string, total int64, done func() int64) *progress {
	p := &progress{w: w, verb: verb, total: total, done: done, start: time.Now()}
	if !isTerminal(w) {
		return p
	}
	p.stop, p.ended = make(chan struct{}), make(chan struct{})
	go p.loop()
	return p
}

func (p *progress) loop() {
	defer close(p.ended)
	t := time.NewTicker(progressInterval)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
			fmt.Fprint(p.w, "\r\033[K"+p.line(time.Since(p.start)))
		}
	}
}

// add counts n more rows.
func (p *progress) add(n int64) { p.rows.Add(n) }

// beginStep shows that the step name has begun, once the rows are done.
func (p *progress) beginStep(name string) {
	p.step.Store(&step{name: name, after: time.Since(p.start)})
}

// finish stops redrawing and clears the line, leaving the terminal as it was.
func (p *progress) finish() {
	if p.stop == nil {
		return
	}
	close(p.stop)
	<-p.ended
	fmt.Fprint(p.w, "\r\033[K")
}

// line describes the progress after elapsed.
func (p *progress) line(elapsed time.Duration) string {
	rows := p.rows.Load()
	s := fmt.Sprintf("%s %d rows", p.verb, rows)
	if st := p.step.Load(); st != nil {
		return s + fmt.Sprintf("; %s, %s", st.name, (elapsed-st.after).Round(time.Second))
	}
	secs := elapsed.Seconds()
	if secs > 0 {
		s += fmt.Sprintf(", %.0f rows/s", float64(rows)/secs)
	}
	if p.total <= 0 || p.done == nil {
		return s
	}
	frac := min(float64(p.done())/float64(p.total), 1)
	s += fmt.Sprintf(", %.0f%%", frac*100)
	if frac > 0 && frac < 1 {
		left := time.Duration(float64(elapsed) * (1 - frac) / frac)
		s += ", " + left.Round(time.Second).String() + " left"
	}
	return s
}

// isTerminal reports whether w is a character device such as a terminal.
// Pipes and files are not.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0 && f.Name() != os.DevNull
}

// countingReader counts the bytes read through it, for progress.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n.Add(int64(n))
	return n, err
}

// inputSize returns the size of r when it is a regular file, else 0.
func inputSize(r io.Reader) int64 {
	f, ok := r.(*os.File)
	if !ok {
		return 0
	}
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return 0
	}
	return fi.Size()
}
