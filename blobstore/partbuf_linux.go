//go:build linux

package blobstore

import (
	"math"
	"runtime/debug"
	"sync"
	"syscall"
	"time"
)

// On Linux the part buffers of S3 uploads live outside Go's heap, mapped
// from the kernel. The collector lets the heap grow GOGC percent beyond
// what is live before it collects (400 under serve, up to its soft memory
// limit), so an 8 MiB buffer on the heap, live through every PATCH, let
// 32 MiB more garbage pile up beside it: one 2 GiB upload to S3 peaked at
// 111 MB of RSS where the same upload to file://, with 256 KiB buffers,
// peaked at 78 MB. Mapped, a buffer costs its own 8 MiB and no more.
//
// The runtime's soft memory limit cannot see these buffers, so while
// their pages are resident the limit is lowered by their size (down to a
// floor): the limit keeps bounding the process, and eight uploads at once
// hold eight buffers without the heap growing to the whole limit beside
// them.
//
// A buffer is never unmapped: net/http may still read a request's body
// after RoundTrip returned (it closes it in another goroutine), and a
// read of a buffer given back must see its bytes or zeros, never fault.
// An idle buffer gives its pages back to the kernel (MADV_DONTNEED: they
// read as zeros and cost nothing until written again) after partIdle.

// partIdle is how long a buffer given back keeps its pages for the next
// piece: the gap between two PATCHes of one upload is far shorter.
const partIdle = 5 * time.Second

// partLimitFloor is the least the soft memory limit is lowered to for
// resident buffers, as a fraction of the limit set: below it the
// collector would run without pause.
const partLimitFloor = 4

var parts partBuffers

// partBuffers hands out mapped part buffers and takes them back.
type partBuffers struct {
	mu       sync.Mutex
	mapped   map[*byte]bool // the first byte of every mapped buffer
	idle     []idlePart
	resident int64 // bytes of mapped buffers whose pages are kept
	lowered  int64 // bytes the soft memory limit is lowered by
	trimming bool  // a trim is scheduled
}

type idlePart struct {
	b        []byte
	since    time.Time
	resident bool
}

func getPart() []byte {
	return parts.get()
}

func putPart(b []byte) {
	parts.put(b)
}

func (p *partBuffers) get() []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := len(p.idle); n > 0 {
		// The last given back is the likeliest to hold its pages still.
		ip := p.idle[n-1]
		p.idle = p.idle[:n-1]
		if !ip.resident {
			p.resident += partialPart
			p.adjustLimit()
		}
		return ip.b
	}
	b, err := syscall.Mmap(-1, 0, partialPart, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANONYMOUS)
	if err != nil {
		// Out of address space or mappings: the heap still serves.
		return make([]byte, partialPart)
	}
	if p.mapped == nil {
		p.mapped = make(map[*byte]bool)
	}
	p.mapped[&b[0]] = true
	p.resident += partialPart
	p.adjustLimit()
	return b
}

func (p *partBuffers) put(b []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.mapped[&b[0]] {
		return // the heap's: the collector takes it
	}
	p.idle = append(p.idle, idlePart{b: b, since: time.Now(), resident: true})
	if !p.trimming {
		p.trimming = true
		time.AfterFunc(partIdle, p.trim)
	}
}

// trim gives back the pages of buffers idle for partIdle, and comes again
// while some idle buffer still holds its pages.
func (p *partBuffers) trim() {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	var next time.Time
	for i := range p.idle {
		ip := &p.idle[i]
		if !ip.resident {
			continue
		}
		if due := ip.since.Add(partIdle); now.Before(due) {
			if next.IsZero() || due.Before(next) {
				next = due
			}
			continue
		}
		if err := syscall.Madvise(ip.b, syscall.MADV_DONTNEED); err == nil {
			ip.resident = false
			p.resident -= partialPart
		}
	}
	p.adjustLimit()
	p.trimming = !next.IsZero()
	if p.trimming {
		time.AfterFunc(next.Sub(now), p.trim)
	}
}

// adjustLimit lowers the soft memory limit by the resident buffers' size
// (no lower than a partLimitFloor-th of the limit as set), or restores
// it. No limit set, none is made.
func (p *partBuffers) adjustLimit() {
	cur := debug.SetMemoryLimit(-1)
	if cur == math.MaxInt64 {
		return
	}
	set := cur + p.lowered
	lower := min(p.resident, set-set/partLimitFloor)
	if lower != p.lowered {
		debug.SetMemoryLimit(set - lower)
		p.lowered = lower
	}
}
