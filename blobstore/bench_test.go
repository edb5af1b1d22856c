package blobstore_test

import (
	"bytes"
	"context"
	"strconv"
	"testing"

	"github.com/re-factor/resources/blobstore"
	"github.com/re-factor/resources/blobstore/blobtest"
)

// BenchmarkPut measures storing a 20 MiB stream, hashing included.
func BenchmarkPut(b *testing.B) {
	data := content(7, 20*MiB)
	for _, kind := range blobtest.Kinds {
		b.Run(kind, func(b *testing.B) {
			st := blobtest.Open(b, kind)
			ctx := context.Background()
			b.SetBytes(int64(len(data)))
			for i := 0; b.Loop(); i++ {
				key := blobstore.Key("bench", strconv.Itoa(i))
				if _, err := st.Put(ctx, key, bytes.NewReader(data), 25*MiB, ""); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				if err := st.Delete(ctx, key); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
		})
	}
}
