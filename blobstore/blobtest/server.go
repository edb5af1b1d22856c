package blobtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/re-factor/resources/internal/testkit"
)

const (
	// AccessKey and SecretKey are the S3 server's only credentials.
	AccessKey = "blobtest"
	SecretKey = "blobtest-secret"
	// Region is the region that clients of the S3 server name.
	Region = "us-east-1"
)

const (
	startTimeout = 2 * time.Minute  // for the server to answer
	stopTimeout  = 15 * time.Second // for it to exit once killed
	startTries   = 3                // new ports each time: another process may take ours
	probeTimeout = 5 * time.Second  // for one attempt to store an object
)

// errExited says that the server exited before it answered.
var errExited = errors.New("S3 server exited before it answered")

// s3Config gives the server one admin identity with fixed keys.
const s3Config = `{"identities":[{"name":"blobtest","credentials":[{"accessKey":%q,"secretKey":%q}],"actions":["Admin","Read","List","Tagging","Write"]}]}`

// server is a running `weed server -s3`.
type server struct {
	cmd      *exec.Cmd
	dir      string // data, configuration and log
	endpoint string // http://127.0.0.1:port
	sockets  []string
	exited   chan struct{} // closed once cmd.Wait returns
}

// startServer starts bin on free loopback ports, trying again with new ports
// when it exits before it answers (another process may have taken a port). It
// returns an error that ends with the server's log when it cannot start it.
func startServer(bin string) (*server, error) {
	var err error
	for range startTries {
		var s *server
		if s, err = tryServer(bin); !errors.Is(err, errExited) {
			return s, err
		}
	}
	return nil, err
}

// tryServer starts bin once and waits until its S3 gateway stores objects.
func tryServer(bin string) (*server, error) {
	dir, err := os.MkdirTemp("", "blobtest-weed-")
	if err != nil {
		return nil, fmt.Errorf("create the S3 server's directory: %w", err)
	}
	s := &server{dir: dir, exited: make(chan struct{})}
	if err := s.start(bin); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := s.waitReady(); err != nil {
		err = fmt.Errorf("%w\n%s", err, s.logTail())
		s.stop()
		return nil, err
	}
	return s, nil
}

// start writes the configuration and starts the process.
func (s *server) start(bin string) error {
	config := filepath.Join(s.dir, "s3.json")
	if err := os.WriteFile(config, fmt.Appendf(nil, s3Config, AccessKey, SecretKey), 0o600); err != nil {
		return fmt.Errorf("write the S3 server's configuration: %w", err)
	}
	data := filepath.Join(s.dir, "data")
	if err := os.Mkdir(data, 0o755); err != nil {
		return fmt.Errorf("create the S3 server's data directory: %w", err)
	}
	p, err := testkit.FreePorts(8)
	if err != nil {
		return err
	}
	s.endpoint = "http://127.0.0.1:" + strconv.Itoa(p[6])
	for i, name := range []string{"master", "volume", "filer", "s3"} {
		s.sockets = append(s.sockets, fmt.Sprintf("/tmp/seaweedfs-%s-grpc-%d.sock", name, p[2*i+1]))
	}
	log, err := os.Create(filepath.Join(s.dir, "weed.log"))
	if err != nil {
		return fmt.Errorf("create the S3 server's log: %w", err)
	}
	defer log.Close()
	s.cmd = exec.Command(bin, s.args(p, config, data)...)
	s.cmd.Dir = s.dir
	s.cmd.Stdout, s.cmd.Stderr = log, log
	s.cmd.SysProcAttr = procAttr()
	if err := s.cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", bin, err)
	}
	go func() {
		_ = s.cmd.Wait()
		close(s.exited)
	}()
	return nil
}

// args returns the command line of the server, on ports p, with the S3
// configuration file config and the data directory data.
func (s *server) args(p []int, config, data string) []string {
	port := func(flag string, port int) string { return "-" + flag + "=" + strconv.Itoa(port) }
	return []string{"server",
		"-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-dir=" + data,
		port("master.port", p[0]), port("master.port.grpc", p[1]),
		"-master.telemetry=false", "-master.volumeSizeLimitMB=64",
		port("volume.port", p[2]), port("volume.port.grpc", p[3]),
		"-volume.max=1000", "-volume.preStopSeconds=0",
		port("filer.port", p[4]), port("filer.port.grpc", p[5]),
		"-filer.localSocket=" + filepath.Join(s.dir, "filer.sock"),
		"-s3", port("s3.port", p[6]), port("s3.port.grpc", p[7]),
		"-s3.port.iceberg=0", "-s3.port.lance=0",
		"-s3.localSocket=" + filepath.Join(s.dir, "s3.sock"),
		"-s3.config=" + config, "-s3.autoCreateBucket=false", "-s3.allowDeleteBucketNotEmpty=true",
	}
}

// waitReady waits until a probe object can be stored, or the process exits,
// or startTimeout passes.
func (s *server) waitReady() error {
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	client := s.client()
	var err error
	for {
		if err = s.probe(ctx, client); err == nil {
			return nil
		}
		select {
		case <-s.exited:
			return fmt.Errorf("%w (%v): %v", errExited, s.cmd.ProcessState, err)
		case <-ctx.Done():
			return fmt.Errorf("S3 server at %s did not answer within %v: %w", s.endpoint, startTimeout, err)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// probe creates a bucket, stores an object in it and deletes the bucket.
func (s *server) probe(ctx context.Context, client *s3.Client) error {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	bucket := aws.String("blobtest-probe")
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: bucket}); err != nil && !alreadyOwned(err) {
		return fmt.Errorf("create bucket: %w", err)
	}
	put := &s3.PutObjectInput{Bucket: bucket, Key: aws.String("probe"), Body: strings.NewReader("probe")}
	if _, err := client.PutObject(ctx, put); err != nil {
		return fmt.Errorf("put object: %w", err)
	}
	if _, err := client.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: bucket}); err != nil {
		return fmt.Errorf("delete bucket: %w", err)
	}
	return nil
}

// alreadyOwned reports whether err says the bucket exists already.
func alreadyOwned(err error) bool {
	var owned *s3types.BucketAlreadyOwnedByYou
	var exists *s3types.BucketAlreadyExists
	return errors.As(err, &owned) || errors.As(err, &exists)
}

// client returns an S3 client for the server.
func (s *server) client() *s3.Client {
	cfg := aws.Config{
		Region:      Region,
		Credentials: credentials.NewStaticCredentialsProvider(AccessKey, SecretKey, ""),
	}
	return s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.BaseEndpoint = aws.String(s.endpoint)
		o.UsePathStyle = true
	})
}

// stop kills the process (its data is thrown away, so it needs no graceful
// shutdown) and removes its files. It returns an error when the process does
// not exit.
func (s *server) stop() error {
	defer s.removeFiles()
	if s.cmd == nil || s.cmd.Process == nil {
		return nil
	}
	_ = s.cmd.Process.Kill()
	select {
	case <-s.exited:
		return nil
	case <-time.After(stopTimeout):
		return fmt.Errorf("S3 server (pid %d) did not exit", s.cmd.Process.Pid)
	}
}

// removeFiles removes the server's directory and the sockets it made in /tmp.
func (s *server) removeFiles() {
	for _, sock := range s.sockets {
		os.Remove(sock)
	}
	os.RemoveAll(s.dir)
}

// logTail returns the end of the server's log.
func (s *server) logTail() string {
	b, err := os.ReadFile(filepath.Join(s.dir, "weed.log"))
	if err != nil {
		return "(no server log: " + err.Error() + ")"
	}
	const max = 4000
	if len(b) > max {
		b = b[len(b)-max:]
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	return "server log (tail):\n" + string(b)
}
