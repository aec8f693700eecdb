package shared

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"

	pb "github.com/pocketbackup/pocketbackup/shared/proto"
)

// GRPCClient is the host side of Backups: it turns calls into RPCs.
type GRPCClient struct {
	client pb.BackupsClient
	// noPipe: the plugin answered that it predates UploadPipe.
	noPipe atomic.Bool
}

var (
	_ Backups      = (*GRPCClient)(nil)
	_ Pinner       = (*GRPCClient)(nil)
	_ StoredOpener = (*GRPCClient)(nil)
)

// NewGRPCClient returns a client over conn.
func NewGRPCClient(conn grpc.ClientConnInterface) *GRPCClient {
	return &GRPCClient{client: pb.NewBackupsClient(conn)}
}

// List implements Backups.
func (c *GRPCClient) List(ctx context.Context, storageURL string) ([]BackupInfo, error) {
	resp, err := c.client.List(ctx, &pb.ListRequest{StorageUrl: storageURL})
	if err != nil {
		return nil, FromStatus(err)
	}
	out := make([]BackupInfo, 0, len(resp.GetBackups()))
	for _, b := range resp.GetBackups() {
		out = append(out, infoFromProto(b))
	}
	return out, nil
}

// Stat implements Backups.
func (c *GRPCClient) Stat(ctx context.Context, storageURL, key string) (BackupInfo, error) {
	resp, err := c.client.Stat(ctx, &pb.KeyRequest{StorageUrl: storageURL, Key: key})
	if err != nil {
		return BackupInfo{}, FromStatus(err)
	}
	return infoFromProto(resp), nil
}

// Create implements Backups.
func (c *GRPCClient) Create(ctx context.Context, req CreateRequest, progress ProgressFunc) (BackupInfo, error) {
	// The stream ends with the call, whatever the plugin still sends.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.client.Create(ctx, &pb.CreateRequest{
		StorageUrl: req.StorageURL,
		Key:        req.Key,
		DataDir:    req.DataDir,
		Replace:    req.Replace,
		Exclude:    req.Exclude,
	})
	if err != nil {
		return BackupInfo{}, FromStatus(err)
	}
	for {
		ev, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return BackupInfo{}, fmt.Errorf("create: stream ended without a result: %w", ErrUnavailable)
		}
		if err != nil {
			return BackupInfo{}, FromStatus(err)
		}
		switch e := ev.GetEvent().(type) {
		case *pb.CreateEvent_Progress:
			if progress != nil {
				progress(Progress{Done: e.Progress.GetDone(), Total: e.Progress.GetTotal()})
			}
		case *pb.CreateEvent_ReplacedRead:
			if req.ReplacedRead != nil {
				req.ReplacedRead()
			}
		case *pb.CreateEvent_Done:
			return infoFromProto(e.Done), nil
		}
	}
}

// Upload implements Backups. body is sent in ChunkSize pieces through one
// reused buffer.
func (c *GRPCClient) Upload(ctx context.Context, storageURL, key string, body io.Reader) (BackupInfo, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.client.Upload(ctx)
	if err != nil {
		return BackupInfo{}, FromStatus(err)
	}
	header := &pb.UploadMessage{Msg: &pb.UploadMessage_Header{Header: &pb.UploadHeader{StorageUrl: storageURL, Key: key}}}
	if err := stream.Send(header); err != nil {
		return BackupInfo{}, c.uploadError(stream, err)
	}
	buf := make([]byte, ChunkSize)
	chunk := &pb.UploadMessage_Chunk{}
	msg := &pb.UploadMessage{Msg: chunk}
	for {
		n, readErr := fillChunk(body, buf)
		if n > 0 {
			chunk.Chunk = buf[:n]
			if err := stream.Send(msg); err != nil {
				return BackupInfo{}, c.uploadError(stream, err)
			}
		}
		if readErr == io.EOF {
			break
		}
		if readErr != nil {
			// Cancelling the stream tells the plugin to discard the upload.
			cancel()
			return BackupInfo{}, fmt.Errorf("upload: read body: %w", readErr)
		}
	}
	resp, err := stream.CloseAndRecv()
	if err != nil {
		return BackupInfo{}, FromStatus(err)
	}
	return infoFromProto(resp), nil
}

// fillChunk reads into buf until it is full or the reader ends. Only a
// clean io.EOF from r ends the body; any other error, io.ErrUnexpectedEOF
// included (a truncated multipart body), is returned as is, so a cut body
// is never taken for a whole one (io.ReadFull would blur the two).
func fillChunk(r io.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// uploadError returns the plugin's own error when Send failed because the
// plugin ended the stream early (Send then only says io.EOF).
func (c *GRPCClient) uploadError(stream pb.Backups_UploadClient, sendErr error) error {
	if errors.Is(sendErr, io.EOF) {
		if _, err := stream.CloseAndRecv(); err != nil {
			return FromStatus(err)
		}
	}
	return FromStatus(sendErr)
}

// Open implements Backups. The returned reader streams chunks as they come;
// closing it cancels the stream.
func (c *GRPCClient) Open(ctx context.Context, storageURL, key string, offset, length int64) (*Download, error) {
	return c.open(ctx, &pb.OpenRequest{StorageUrl: storageURL, Key: key, Offset: offset, Length: length})
}

// OpenStored implements StoredOpener.
func (c *GRPCClient) OpenStored(ctx context.Context, storageURL, key string, offset, length int64) (*Download, error) {
	return c.open(ctx, &pb.OpenRequest{StorageUrl: storageURL, Key: key, Offset: offset, Length: length, Stored: true})
}

func (c *GRPCClient) open(ctx context.Context, req *pb.OpenRequest) (*Download, error) {
	ctx, cancel := context.WithCancel(ctx)
	stream, err := c.client.Open(ctx, req)
	if err != nil {
		cancel()
		return nil, FromStatus(err)
	}
	first, err := stream.Recv()
	if err != nil {
		cancel()
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("open: stream ended without a header: %w", ErrUnavailable)
		}
		return nil, FromStatus(err)
	}
	header := first.GetHeader()
	if header == nil {
		cancel()
		return nil, fmt.Errorf("open: first message is not a header: %w", ErrUnavailable)
	}
	dl := &Download{
		Info:   infoFromProto(header.GetInfo()),
		Offset: header.GetOffset(),
		Length: header.GetLength(),
		Path:   header.GetPath(),
	}
	if dl.Path != "" {
		cancel()
		dl.ReadCloser = &fileRange{path: dl.Path, offset: dl.Offset, length: dl.Length}
		return dl, nil
	}
	dl.ReadCloser = &chunkReader{stream: stream, cancel: cancel, remaining: header.GetLength()}
	return dl, nil
}

// fileRange reads a byte range of a local file, opened on first read.
type fileRange struct {
	path           string
	offset, length int64
	f              *os.File
	r              io.Reader
}

func (fr *fileRange) Read(p []byte) (int, error) {
	if fr.r == nil {
		f, err := os.Open(fr.path)
		if err != nil {
			return 0, err
		}
		fr.f, fr.r = f, io.NewSectionReader(f, fr.offset, fr.length)
	}
	return fr.r.Read(p)
}

func (fr *fileRange) Close() error {
	if fr.f == nil {
		return nil
	}
	return fr.f.Close()
}

// chunkReader reads the chunks of an Open stream.
type chunkReader struct {
	stream    pb.Backups_OpenClient
	cancel    context.CancelFunc
	pending   []byte
	remaining int64 // bytes still expected
	err       error
}

func (r *chunkReader) Read(p []byte) (int, error) {
	for len(r.pending) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		msg, err := r.stream.Recv()
		if errors.Is(err, io.EOF) {
			if r.remaining > 0 {
				r.err = fmt.Errorf("download ended %d bytes early: %w", r.remaining, io.ErrUnexpectedEOF)
			} else {
				r.err = io.EOF
			}
			continue
		}
		if err != nil {
			r.err = FromStatus(err)
			continue
		}
		r.pending = msg.GetChunk()
	}
	n := copy(p, r.pending)
	r.pending = r.pending[n:]
	r.remaining -= int64(n)
	return n, nil
}

func (r *chunkReader) Close() error {
	r.cancel()
	return nil
}

// Delete implements Backups.
func (c *GRPCClient) Delete(ctx context.Context, storageURL, key string) error {
	_, err := c.client.Delete(ctx, &pb.KeyRequest{StorageUrl: storageURL, Key: key})
	return FromStatus(err)
}

// SetPinned implements Pinner.
func (c *GRPCClient) SetPinned(ctx context.Context, storageURL, key string, pinned bool) (BackupInfo, error) {
	resp, err := c.client.SetPinned(ctx, &pb.PinRequest{StorageUrl: storageURL, Key: key, Pinned: pinned})
	if err != nil {
		return BackupInfo{}, FromStatus(err)
	}
	return infoFromProto(resp), nil
}

// Inspect implements Backups.
func (c *GRPCClient) Inspect(ctx context.Context, storageURL, key string) (ArchiveSummary, error) {
	resp, err := c.client.Inspect(ctx, &pb.KeyRequest{StorageUrl: storageURL, Key: key})
	if err != nil {
		return ArchiveSummary{}, FromStatus(err)
	}
	return ArchiveSummary{Entries: int(resp.GetEntries()), TotalBytes: resp.GetTotalBytes(), HasDataDB: resp.GetHasDataDb()}, nil
}

// Extract implements Backups.
func (c *GRPCClient) Extract(ctx context.Context, req ExtractRequest, progress ProgressFunc) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.client.Extract(ctx, &pb.ExtractRequest{StorageUrl: req.StorageURL, Key: req.Key, DestDir: req.DestDir})
	if err != nil {
		return FromStatus(err)
	}
	for {
		p, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return FromStatus(err)
		}
		switch {
		case p.GetRootFilesExtracted():
			if req.RootFilesExtracted != nil {
				req.RootFilesExtracted()
			}
		case progress != nil:
			progress(Progress{Done: p.GetDone(), Total: p.GetTotal()})
		}
	}
}

func infoFromProto(b *pb.BackupInfo) BackupInfo {
	return BackupInfo{Key: b.GetKey(), Size: b.GetSize(), Modified: time.Unix(0, b.GetModifiedUnixNano()).UTC(), SHA256: b.GetSha256(), Pinned: b.GetPinned(),
		Encrypted: b.GetEncrypted(), StoredSize: b.GetStoredSize()}
}

func infoToProto(b BackupInfo) *pb.BackupInfo {
	return &pb.BackupInfo{Key: b.Key, Size: b.Size, ModifiedUnixNano: b.Modified.UnixNano(), Sha256: b.SHA256, Pinned: b.Pinned,
		Encrypted: b.Encrypted, StoredSize: b.StoredSize}
}

// Verify implements Backups. A plugin older than Verify answers
// Unimplemented, which arrives as an error.
func (c *GRPCClient) Verify(ctx context.Context, req VerifyRequest, progress ProgressFunc) (VerifyResult, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.client.Verify(ctx, &pb.VerifyRequest{StorageUrl: req.StorageURL, Key: req.Key, Mode: req.Mode, ScratchDir: req.ScratchDir})
	if err != nil {
		return VerifyResult{}, FromStatus(err)
	}
	for {
		ev, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return VerifyResult{}, fmt.Errorf("verify: stream ended without a result: %w", ErrUnavailable)
		}
		if err != nil {
			return VerifyResult{}, FromStatus(err)
		}
		switch e := ev.GetEvent().(type) {
		case *pb.VerifyEvent_Progress:
			if progress != nil {
				progress(Progress{Done: e.Progress.GetDone(), Total: e.Progress.GetTotal()})
			}
		case *pb.VerifyEvent_Done:
			d := e.Done
			return VerifyResult{SHA256: d.GetSha256(), FirstSeen: d.GetFirstSeen(), Entries: int(d.GetEntries()),
				TotalBytes: d.GetTotalBytes(), Problem: d.GetProblem(), Extracted: d.GetExtracted()}, nil
		}
	}
}
