//go:build unix

package shared

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/iotest"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	pb "github.com/pocketbackup/pocketbackup/shared/proto"
)

// receiver is a Backups whose Upload keeps what it read and how the read
// ended; refuse makes it fail at once, reading nothing.
type receiver struct {
	Backups // only Upload is called
	refuse  error

	mu       sync.Mutex
	got      []byte
	readErr  error
	viaPipe  bool
	uploads  int
	finished chan struct{}
}

func (r *receiver) Upload(_ context.Context, _, key string, body io.Reader) (BackupInfo, error) {
	defer func() { r.finished <- struct{}{} }()
	if r.refuse != nil {
		return BackupInfo{}, r.refuse
	}
	got, err := io.ReadAll(body)
	_, viaPipe := body.(*pipeBody)
	r.mu.Lock()
	r.got, r.readErr, r.viaPipe = got, err, viaPipe
	r.uploads++
	r.mu.Unlock()
	if err != nil {
		return BackupInfo{}, err
	}
	return BackupInfo{Key: key, Size: int64(len(got))}, nil
}

// oldServer is a plugin from before UploadPipe.
type oldServer struct {
	*GRPCServer
	pipeCalls atomic.Int32
}

func (s *oldServer) UploadPipe(pb.Backups_UploadPipeServer) error {
	s.pipeCalls.Add(1)
	return status.Error(codes.Unimplemented, "method UploadPipe not implemented")
}

// serve runs srv on a unix socket and returns a client of it.
func serve(t *testing.T, srv pb.BackupsServer) *GRPCClient {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "plugin.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	server := grpc.NewServer(ServerOptions(nil)...)
	pb.RegisterBackupsServer(server, srv)
	go server.Serve(ln) //nolint:errcheck // ends with Stop
	t.Cleanup(server.Stop)
	conn, err := grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return NewGRPCClient(conn)
}

func newReceiver() *receiver { return &receiver{finished: make(chan struct{}, 4)} }

func randomBody(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// emptyDir fails unless dir holds nothing: no pipe folder is left behind.
func emptyDir(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Fatalf("%s still holds %d entries, first %s", dir, len(entries), entries[0].Name())
	}
}

func TestUploadThroughPipeCarriesTheBody(t *testing.T) {
	rcv := newReceiver()
	c := serve(t, &GRPCServer{Impl: rcv})
	dir := t.TempDir()
	body := randomBody(t, 5<<20+123) // more than a pipe's buffer
	info, err := c.UploadThroughPipe(context.Background(), dir, "mem://", "a.zip", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if info.Key != "a.zip" || info.Size != int64(len(body)) {
		t.Fatalf("info = %+v", info)
	}
	if !rcv.viaPipe {
		t.Fatal("the body came as gRPC chunks, not through the pipe")
	}
	if !bytes.Equal(rcv.got, body) {
		t.Fatalf("plugin read %d bytes, not the %d sent", len(rcv.got), len(body))
	}
	emptyDir(t, dir)
}

// A body that breaks off mid-way never reaches the plugin as a whole one.
func TestUploadThroughPipeBodyBreaksOff(t *testing.T) {
	rcv := newReceiver()
	c := serve(t, &GRPCServer{Impl: rcv})
	dir := t.TempDir()
	body := io.MultiReader(bytes.NewReader(randomBody(t, 3<<20)), iotest.ErrReader(io.ErrUnexpectedEOF))
	_, err := c.UploadThroughPipe(context.Background(), dir, "mem://", "a.zip", body)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("err = %v, want the body's io.ErrUnexpectedEOF", err)
	}
	waitFinished(t, rcv)
	if rcv.readErr == nil {
		t.Fatalf("the plugin read a cut body of %d bytes as a whole one", len(rcv.got))
	}
	emptyDir(t, dir)
}

// The end of the pipe is not the end of the body: only the host's end
// message with the size read is.
func TestUploadPipeNeedsTheHostsEnd(t *testing.T) {
	for _, tc := range []struct {
		name string
		end  func(pb.Backups_UploadPipeClient) error
		want string
	}{
		{"wrong size", func(s pb.Backups_UploadPipeClient) error {
			return s.Send(&pb.UploadMessage{Msg: &pb.UploadMessage_End{End: 5}})
		}, "the pipe carried 10 bytes, the host sent 5"},
		{"no end", func(s pb.Backups_UploadPipeClient) error { return s.CloseSend() }, "without the body's end"},
		{"a chunk instead", func(s pb.Backups_UploadPipeClient) error {
			return s.Send(&pb.UploadMessage{Msg: &pb.UploadMessage_Chunk{Chunk: []byte("x")}})
		}, "expected the body's end"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rcv := newReceiver()
			c := serve(t, &GRPCServer{Impl: rcv})
			_, path, err := makePipe(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			stream, err := c.client.UploadPipe(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if err := stream.Send(&pb.UploadMessage{Msg: &pb.UploadMessage_Header{Header: &pb.UploadHeader{Key: "a.zip", Pipe: path}}}); err != nil {
				t.Fatal(err)
			}
			w, err := os.OpenFile(path, os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := w.Write([]byte("0123456789")); err != nil {
				t.Fatal(err)
			}
			w.Close()
			if err := tc.end(stream); err != nil {
				t.Fatal(err)
			}
			if _, err := stream.Recv(); err == nil {
				t.Fatal("the upload was accepted")
			}
			waitFinished(t, rcv)
			if rcv.readErr == nil || !strings.Contains(rcv.readErr.Error(), tc.want) {
				t.Fatalf("plugin's read ended with %v, want %q", rcv.readErr, tc.want)
			}
		})
	}
}

// A plugin that refuses at once (name taken) is answered without a hang,
// though the body is far larger than the pipe holds.
func TestUploadThroughPipePluginRefusesFirst(t *testing.T) {
	rcv := newReceiver()
	rcv.refuse = fmt.Errorf("%q: %w", "a.zip", ErrExists)
	c := serve(t, &GRPCServer{Impl: rcv})
	dir := t.TempDir()
	_, err := c.UploadThroughPipe(context.Background(), dir, "mem://", "a.zip", bytes.NewReader(randomBody(t, 32<<20)))
	if !errors.Is(err, ErrExists) {
		t.Fatalf("err = %v, want ErrExists", err)
	}
	emptyDir(t, dir)
}

// A plugin older than UploadPipe gets its uploads as chunks, and is asked
// about the pipe once only.
func TestUploadThroughPipeFallsBackForAnOldPlugin(t *testing.T) {
	rcv := newReceiver()
	old := &oldServer{GRPCServer: &GRPCServer{Impl: rcv}}
	c := serve(t, old)
	dir := t.TempDir()
	for i := range 2 {
		body := randomBody(t, 2<<20)
		if _, err := c.UploadThroughPipe(context.Background(), dir, "mem://", "a.zip", bytes.NewReader(body)); err != nil {
			t.Fatalf("upload %d: %v", i, err)
		}
		if rcv.viaPipe || !bytes.Equal(rcv.got, body) {
			t.Fatalf("upload %d: via pipe %v, %d of %d bytes", i, rcv.viaPipe, len(rcv.got), len(body))
		}
	}
	if n := old.pipeCalls.Load(); n != 1 {
		t.Fatalf("UploadPipe asked %d times, want 1", n)
	}
	emptyDir(t, dir)
}

// Where no pipe can be made, the upload goes as chunks.
func TestUploadThroughPipeWithoutAFolder(t *testing.T) {
	rcv := newReceiver()
	c := serve(t, &GRPCServer{Impl: rcv})
	body := randomBody(t, 1<<20)
	missing := filepath.Join(t.TempDir(), "missing")
	if _, err := c.UploadThroughPipe(context.Background(), missing, "mem://", "a.zip", bytes.NewReader(body)); err != nil {
		t.Fatal(err)
	}
	if rcv.viaPipe || !bytes.Equal(rcv.got, body) {
		t.Fatalf("via pipe %v, %d of %d bytes", rcv.viaPipe, len(rcv.got), len(body))
	}
}

func waitFinished(t *testing.T, r *receiver) {
	t.Helper()
	select {
	case <-r.finished:
	case <-time.After(time.Minute):
		t.Fatal("the plugin's Upload never returned")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
}
