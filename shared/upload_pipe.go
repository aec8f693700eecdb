package shared

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/pocketbackup/pocketbackup/shared/proto"
)

// An upload through a pipe: the host makes a named pipe in a folder of
// its own, sends its path in the header of an UploadPipe stream and writes
// the body into it; the plugin reads the body from the pipe as it would
// from the chunks of Upload. The end of the pipe is not the end of the
// body: a host that dies mid-body closes its end too. The body is whole
// only when the host's end message on the stream, sent after the pipe is
// closed, gives the size the plugin read; anything else fails the upload.

var (
	// errPipeAbandoned: an open of a pipe stopped waiting for its other end.
	errPipeAbandoned = errors.New("pipe abandoned before its other end opened")
	// errPipeRefused: the plugin predates UploadPipe.
	errPipeRefused = errors.New("plugin does not take uploads through a pipe")
)

var _ PipeUploader = (*GRPCClient)(nil)

// UploadThroughPipe implements PipeUploader.
func (c *GRPCClient) UploadThroughPipe(ctx context.Context, dir, storageURL, key string, body io.Reader) (BackupInfo, error) {
	if c.noPipe.Load() {
		return c.Upload(ctx, storageURL, key, body)
	}
	folder, path, err := makePipe(dir)
	if err != nil {
		return c.Upload(ctx, storageURL, key, body)
	}
	defer os.RemoveAll(folder) //nolint:errcheck // a leftover is swept with the host's scratch folder
	info, err := c.uploadPipe(ctx, path, storageURL, key, body)
	if errors.Is(err, errPipeRefused) {
		// Nothing of the body was read: it goes as chunks instead.
		c.noPipe.Store(true)
		return c.Upload(ctx, storageURL, key, body)
	}
	return info, err
}

func (c *GRPCClient) uploadPipe(ctx context.Context, path, storageURL, key string, body io.Reader) (BackupInfo, error) {
	// Cancelling the stream tells the plugin to discard the upload.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.client.UploadPipe(ctx)
	if err != nil {
		return BackupInfo{}, FromStatus(err)
	}
	header := &pb.UploadMessage{Msg: &pb.UploadMessage_Header{Header: &pb.UploadHeader{StorageUrl: storageURL, Key: key, Pipe: path}}}
	// io.EOF: the plugin already ended the stream; Recv says why.
	if err := stream.Send(header); err != nil && !errors.Is(err, io.EOF) {
		return BackupInfo{}, FromStatus(err)
	}
	var (
		reply    *pb.BackupInfo
		replyErr error
		answered = make(chan struct{})
	)
	go func() {
		reply, replyErr = stream.Recv()
		close(answered)
	}()
	answer := func() (BackupInfo, error) {
		<-answered
		if replyErr != nil {
			return BackupInfo{}, FromStatus(replyErr)
		}
		return infoFromProto(reply), nil
	}

	w, err := openPipe(answered, path, os.O_WRONLY)
	if err != nil {
		if !errors.Is(err, errPipeAbandoned) {
			cancel()
			<-answered
			return BackupInfo{}, fmt.Errorf("upload: open pipe: %w", err)
		}
		// The plugin answered without opening the pipe.
		<-answered
		if status.Code(replyErr) == codes.Unimplemented {
			return BackupInfo{}, errPipeRefused
		}
		if replyErr == nil {
			return BackupInfo{}, fmt.Errorf("upload: the plugin answered before reading the body: %w", ErrInvalid)
		}
		return answer()
	}
	growPipe(w)
	n, readErr, writeErr := copyBody(w, body)
	closeErr := w.Close()
	switch {
	case readErr != nil:
		cancel()
		<-answered
		return BackupInfo{}, fmt.Errorf("upload: read body: %w", readErr)
	case writeErr != nil:
		// The plugin closed its end: it failed, and its answer says why.
		info, err := answer()
		if err == nil {
			err = fmt.Errorf("upload: write to pipe: %w", writeErr)
		}
		return info, err
	case closeErr != nil:
		cancel()
		<-answered
		return BackupInfo{}, fmt.Errorf("upload: close pipe: %w", closeErr)
	}
	end := &pb.UploadMessage{Msg: &pb.UploadMessage_End{End: n}}
	if err := stream.Send(end); err != nil && !errors.Is(err, io.EOF) {
		cancel()
		<-answered
		return BackupInfo{}, FromStatus(err)
	}
	_ = stream.CloseSend()
	return answer()
}

// copyBody copies body into the pipe w in ChunkSize writes and tells a
// failed read of the body from a failed write to the pipe.
func copyBody(w io.Writer, body io.Reader) (n int64, readErr, writeErr error) {
	buf := make([]byte, ChunkSize)
	for {
		m, err := fillChunk(body, buf)
		if m > 0 {
			if _, werr := w.Write(buf[:m]); werr != nil {
				return n, nil, werr
			}
			n += int64(m)
		}
		if err == io.EOF {
			return n, nil, nil
		}
		if err != nil {
			return n, err, nil
		}
	}
}

// UploadPipe serves Backups.UploadPipe: a header naming the pipe, the body
// read from it, then the host's end message.
func (s *GRPCServer) UploadPipe(stream pb.Backups_UploadPipeServer) error {
	first, err := stream.Recv()
	if err != nil {
		return ToStatus(fmt.Errorf("upload: read header: %w", err))
	}
	header := first.GetHeader()
	if header == nil || header.GetPipe() == "" {
		return ToStatus(fmt.Errorf("upload: first message is not a header with a pipe: %w", ErrInvalid))
	}
	ctx := stream.Context()
	f, err := openPipe(ctx.Done(), header.GetPipe(), os.O_RDONLY)
	if err != nil {
		return ToStatus(fmt.Errorf("upload: open pipe: %w", err))
	}
	// Closed before the answer goes out, so a host still writing stops;
	// and when the host goes away, so a read waiting for it ends.
	defer f.Close()
	stop := context.AfterFunc(ctx, func() { _ = f.Close() })
	defer stop()
	if fi, err := f.Stat(); err != nil || fi.Mode()&fs.ModeNamedPipe == 0 {
		return ToStatus(fmt.Errorf("upload: %s is not a named pipe: %w", header.GetPipe(), ErrInvalid))
	}
	body := &pipeBody{pipe: f, stream: stream}
	info, err := s.Impl.Upload(ctx, header.GetStorageUrl(), header.GetKey(), body)
	if err != nil {
		return ToStatus(err)
	}
	return stream.Send(infoToProto(info))
}

// pipeBody reads an upload's body from its pipe; it ends cleanly only
// when the host's end message gives the size read.
type pipeBody struct {
	pipe   io.Reader
	stream pb.Backups_UploadPipeServer
	n      int64
	err    error
}

func (b *pipeBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	n, err := b.pipe.Read(p)
	b.n += int64(n)
	switch {
	case errors.Is(err, io.EOF):
		err = b.end()
	case err != nil:
		err = fmt.Errorf("upload pipe: %w", err)
	}
	b.err = err
	return n, err
}

// end waits for the host's end message once the pipe is closed.
func (b *pipeBody) end() error {
	msg, err := b.stream.Recv()
	if errors.Is(err, io.EOF) {
		return fmt.Errorf("upload: the host closed the stream without the body's end: %w", io.ErrUnexpectedEOF)
	}
	if err != nil {
		return fmt.Errorf("upload stream: %w", err)
	}
	end, ok := msg.GetMsg().(*pb.UploadMessage_End)
	if !ok {
		return fmt.Errorf("upload: expected the body's end: %w", ErrInvalid)
	}
	if end.End != b.n {
		return fmt.Errorf("upload: the pipe carried %d bytes, the host sent %d: %w", b.n, end.End, io.ErrUnexpectedEOF)
	}
	return io.EOF
}
