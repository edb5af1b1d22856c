// Command buildweed builds the S3 server that blobtest runs (SeaweedFS's weed,
// at blobtest.ServerVersion, from the Go module proxy) into the tools cache,
// unless it is there already, and prints the binary's path.
//
//	go run ./blobstore/blobtest/cmd/buildweed
package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"os/signal"
	"time"

	"github.com/re-factor/resources/blobstore/blobtest"
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("buildweed: ")
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	start := time.Now()
	bin, err := blobtest.BuildServer(ctx, os.Stderr)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("%s ready after %v", bin, time.Since(start).Round(time.Second))
	fmt.Println(bin)
}
