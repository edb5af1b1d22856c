package main

import (
	"math"
	"testing"
	"time"
)

// Traces as `go tool pprof -traces` prints them (shortened stacks).
const sampleTraces = `File: refactor
Type: cpu
-----------+-------------------------------------------------------
      20ms   internal/runtime/syscall/linux.Syscall6
             syscall.Syscall
             internal/poll.(*FD).Read
             net.(*conn).Read
             bufio.(*Reader).Read
             github.com/lib/pq.(*conn).recvMessage
             github.com/re-factor/resources/store.(*DB).listPage
-----------+-------------------------------------------------------
      10ms   internal/runtime/syscall/linux.Syscall6
             syscall.Syscall
             net.(*conn).Write
             net/http.(*response).finishRequest
-----------+-------------------------------------------------------
      30ms   github.com/klauspost/compress/flate.(*fastEncL1).Encode
             github.com/klauspost/compress/gzhttp.(*GzipResponseWriter).Close
             github.com/re-factor/resources/server.compressResponses.func1.1
-----------+-------------------------------------------------------
      10ms   runtime.memmove
             github.com/re-factor/resources/server.appendString
             github.com/re-factor/resources/server.appendResource
             github.com/re-factor/resources/server.writeJSON
             github.com/re-factor/resources/server.New.(*Server).authenticate.func7.1
-----------+-------------------------------------------------------
      10ms   runtime.mallocgc
             github.com/lib/pq.textDecode
             database/sql.(*Rows).Next
             github.com/re-factor/resources/store.readResources
-----------+-------------------------------------------------------
      10ms   runtime.scanObject
             runtime.gcDrain
             runtime.gcBgMarkWorker
-----------+-------------------------------------------------------
      10ms   github.com/re-factor/resources/store.cursorCodec.mac
             github.com/re-factor/resources/store.(*DB).ListResources
             github.com/re-factor/resources/server.(*Server).ListResources
-----------+-------------------------------------------------------
`

func TestCPUSplit(t *testing.T) {
	parts, total := cpuSplit(sampleTraces)
	if total != 100*time.Millisecond {
		t.Errorf("total %v, want 100ms", total)
	}
	want := map[string]float64{whereGzip: 0.3, whereDBSocket: 0.2, whereHTTPSocket: 0.1, whereJSON: 0.1,
		wherePQ: 0.1, whereGC: 0.1, whereStore: 0.1}
	if len(parts) != len(want) {
		t.Errorf("parts %v, want %v", parts, want)
	}
	for i, p := range parts {
		if math.Abs(want[p.where]-p.share) > 1e-9 {
			t.Errorf("%s: share %.2f, want %.2f", p.where, p.share, want[p.where])
		}
		if i > 0 && p.share > parts[i-1].share {
			t.Errorf("parts not by share: %v", parts)
		}
	}
}

// A library our code calls is ours; one nothing of ours called is its own.
func TestCPUWhereLibraries(t *testing.T) {
	for _, c := range []struct {
		frames []string
		want   string
	}{
		{[]string{"github.com/google/uuid.Parse", "github.com/re-factor/resources/server.appendResource",
			"github.com/re-factor/resources/server.writeJSON"}, whereJSON},
		{[]string{"github.com/google/uuid.NewRandom", "github.com/re-factor/resources/server.requestID.func1",
			"net/http.HandlerFunc.ServeHTTP"}, whereOurs},
		{[]string{"github.com/riverqueue/river.(*Client).run", "runtime.goexit"}, "other library: riverqueue/river"},
		{[]string{"runtime.memclrNoHeapPointers", "runtime.goexit"}, whereRuntime},
	} {
		if got := cpuWhere(c.frames); got != c.want {
			t.Errorf("cpuWhere(%q) = %q, want %q", c.frames, got, c.want)
		}
	}
}
