//go:build !linux

package blobstore

import "sync"

// Elsewhere than Linux the part buffers come from the heap, pooled
// (partbuf_linux.go says what that costs).
var partPool = sync.Pool{New: func() any { b := make([]byte, partialPart); return &b }}

func getPart() []byte { return *partPool.Get().(*[]byte) }

func putPart(b []byte) { partPool.Put(&b) }
