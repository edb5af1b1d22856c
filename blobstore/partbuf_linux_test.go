package blobstore

import (
	"runtime/debug"
	"testing"
	"time"
)

// TestPartBuffers checks the mapped part buffers: one given back is
// handed out again; while resident they lower the soft memory limit by
// their size, no lower than the floor; idle past partIdle, their pages go
// (they read as zeros, without faulting) and the limit comes back.
func TestPartBuffers(t *testing.T) {
	const limit = 64 << 20
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(limit))
	wantLimit := func(want int64) {
		t.Helper()
		if got := debug.SetMemoryLimit(-1); got != want {
			t.Fatalf("soft memory limit %d MiB, want %d MiB", got>>20, want>>20)
		}
	}
	var p partBuffers
	a, b := p.get(), p.get()
	if len(a) != partialPart || len(b) != partialPart {
		t.Fatalf("buffers of %d and %d bytes, want %d", len(a), len(b), partialPart)
	}
	wantLimit(limit - 2*partialPart)
	a[0], a[partialPart-1] = 7, 7
	p.put(a)
	p.put(b)
	wantLimit(limit - 2*partialPart) // idle, but their pages kept
	if c := p.get(); &c[0] != &b[0] {
		t.Fatal("get did not hand out the buffer given back last")
	}
	p.put(b)
	idle(&p)
	wantLimit(limit)
	if a[0] != 0 || a[partialPart-1] != 0 {
		t.Fatalf("an idle buffer's bytes are %d…%d after its pages went, want zeros", a[0], a[partialPart-1])
	}
	c := p.get()
	wantLimit(limit - partialPart)
	p.put(c)
	idle(&p)

	// However many buffers are resident, the limit stays at its floor.
	held := make([][]byte, 0, 12)
	for range cap(held) {
		held = append(held, p.get())
	}
	wantLimit(limit / partLimitFloor)
	for _, h := range held {
		p.put(h)
	}
	idle(&p)
	wantLimit(limit)
}

// idle makes p's idle buffers idle for partIdle, and trims them.
func idle(p *partBuffers) {
	p.mu.Lock()
	for i := range p.idle {
		p.idle[i].since = time.Now().Add(-partIdle)
	}
	p.mu.Unlock()
	p.trim()
}
