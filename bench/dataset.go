package main

import (
	"bufio"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/re-factor/resources"
)

// The dataset's shape. Accounts and tags follow Zipf-like weights 1/rank^s:
// with s = 1 over 1,000 accounts the largest holds 13.4% of all rows
// (133,592 of a million), the smallest about 0.013%.
const (
	numAccounts   = 1000
	accountSkew   = 1.0
	numTags       = 200
	tagSkew       = 1.1
	treeFanout    = 8
	timeSpan      = 2 * 365 * 24 * time.Hour
	datasetSeed   = 20261127
	largestAcct   = "acct-0000"
	smallestAcct  = "acct-0999"
	commonTag     = "t000"
	secondTag     = "t001"
	rareTag       = "t199"
	datasetPrefix = "/d1/d2"
)

// datasetStart is the oldest created_at; the newest is timeSpan later.
var datasetStart = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// accountName is the account of Zipf rank i (0 is the largest).
func accountName(i int) string { return fmt.Sprintf("acct-%04d", i) }

// accountSizes splits rows over numAccounts by weight 1/rank^accountSkew,
// every account getting at least one row and the largest the remainder of
// rounding.
func accountSizes(rows int) []int {
	w := zipfWeights(numAccounts, accountSkew)
	sizes := make([]int, numAccounts)
	sum := 0
	for i := 1; i < numAccounts; i++ {
		sizes[i] = max(1, int(math.Round(float64(rows)*w[i])))
		sum += sizes[i]
	}
	sizes[0] = max(rows-sum, 0)
	return sizes
}

// zipfWeights returns n weights 1/rank^s normalised to sum to 1.
func zipfWeights(n int, s float64) []float64 {
	w := make([]float64, n)
	var total float64
	for i := range w {
		w[i] = 1 / math.Pow(float64(i+1), s)
		total += w[i]
	}
	for i := range w {
		w[i] /= total
	}
	return w
}

// sampler draws indexes with given weights by inverse transform.
type sampler struct{ cum []float64 }

func newSampler(w []float64) sampler {
	s := sampler{cum: make([]float64, len(w))}
	var c float64
	for i, x := range w {
		c += x
		s.cum[i] = c
	}
	return s
}

func (s sampler) draw(r *rand.Rand) int {
	x := r.Float64() * s.cum[len(s.cum)-1]
	lo, hi := 0, len(s.cum)-1
	for lo < hi {
		mid := (lo + hi) / 2
		if s.cum[mid] < x {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo
}

var mimeTypes = []string{"application/pdf", "text/plain", "image/png", "application/json", "text/csv"}

// writeDataset writes rows deterministic resources as JSON Lines: the same
// rows give the same bytes on every machine.
func writeDataset(w io.Writer, rows int) error {
	r := rand.New(rand.NewPCG(datasetSeed, uint64(rows)))
	tags := newSampler(zipfWeights(numTags, tagSkew))
	bw := bufio.NewWriterSize(w, 1<<20)
	n := 0
	for a, size := range accountSizes(rows) {
		for range size {
			// The codec import and export use, so the file is what an
			// export of the same rows would be.
			if err := resources.EncodeLine(bw, newRecord(r, tags, accountName(a), n)); err != nil {
				return err
			}
			n++
		}
	}
	return bw.Flush()
}

func newRecord(r *rand.Rand, tags sampler, account string, n int) resources.Resource {
	var id, sum [16]byte
	fillRandom(r, id[:])
	fillRandom(r, sum[:])
	id[6] = id[6]&0x0f | 0x40 // a version 4 UUID
	id[8] = id[8]&0x3f | 0x80
	created := createdAt(r)
	rec := resources.Resource{
		ID:            formatUUID(id),
		AccountID:     account,
		Name:          fmt.Sprintf("file-%07d.dat", n),
		DirectoryPath: directory(r),
		MimeType:      mimeTypes[r.IntN(len(mimeTypes))],
		SHA256:        strings.Repeat(hex.EncodeToString(sum[:]), 2),
		StorageBucket: "bench",
		StorageKey:    account + "/" + formatUUID(id),
		SizeBytes:     r.Int64N(10 << 20),
		Tags:          resourceTags(r, tags),
		CreatedAt:     created,
		UpdatedAt:     created,
	}
	// Drawn after the tags, so the same seed keeps giving the same rows.
	createdBy := fmt.Sprintf("user-%d", r.IntN(20))
	rec.CreatedBy = &createdBy
	if r.IntN(4) == 0 {
		rec.Metadata = json.RawMessage(fmt.Sprintf(`{"source":"bench","batch":%d}`, r.IntN(1000)))
	}
	return rec
}

// createdAt spreads times over timeSpan; a fifth of them are rounded down to
// the hour, so many resources share a created_at and the id must break ties.
func createdAt(r *rand.Rand) time.Time {
	t := datasetStart.Add(time.Duration(r.Int64N(int64(timeSpan/time.Microsecond))) * time.Microsecond)
	if r.IntN(5) == 0 {
		return t.Truncate(time.Hour)
	}
	return t.Truncate(time.Microsecond)
}

// directory returns a path 1 to 5 levels deep, each level one of
// treeFanout names, so "/d1/d2" holds about 1/64 of the rows 2+ deep.
func directory(r *rand.Rand) string {
	var b strings.Builder
	for range 1 + r.IntN(5) {
		fmt.Fprintf(&b, "/d%d", r.IntN(treeFanout))
	}
	return b.String()
}

// resourceTags returns 1 to 5 distinct tags, sorted.
func resourceTags(r *rand.Rand, s sampler) []string {
	want := 1 + r.IntN(5)
	seen := make(map[int]bool, want)
	for len(seen) < want {
		seen[s.draw(r)] = true
	}
	out := make([]string, 0, want)
	for i := range numTags {
		if seen[i] {
			out = append(out, fmt.Sprintf("t%03d", i))
		}
	}
	return out
}

func fillRandom(r *rand.Rand, b []byte) {
	for i := range b {
		b[i] = byte(r.Uint32())
	}
}

func formatUUID(b [16]byte) string {
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
