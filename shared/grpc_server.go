package shared

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	pb "github.com/pocketbackup/pocketbackup/shared/proto"
)

// GRPCServer is the plugin side of Backups: it serves RPCs with Impl.
type GRPCServer struct {
	pb.UnimplementedBackupsServer
	Impl Backups
}

var _ pb.BackupsServer = (*GRPCServer)(nil)

// List serves Backups.List.
func (s *GRPCServer) List(ctx context.Context, req *pb.ListRequest) (*pb.ListResponse, error) {
	infos, err := s.Impl.List(ctx, req.GetStorageUrl())
	if err != nil {
		return nil, ToStatus(err)
	}
	resp := &pb.ListResponse{Backups: make([]*pb.BackupInfo, 0, len(infos))}
	for _, info := range infos {
		resp.Backups = append(resp.Backups, infoToProto(info))
	}
	return resp, nil
}

// Stat serves Backups.Stat.
func (s *GRPCServer) Stat(ctx context.Context, req *pb.KeyRequest) (*pb.BackupInfo, error) {
	info, err := s.Impl.Stat(ctx, req.GetStorageUrl(), req.GetKey())
	if err != nil {
		return nil, ToStatus(err)
	}
	return infoToProto(info), nil
}

// Create serves Backups.Create, forwarding progress as stream events.
func (s *GRPCServer) Create(req *pb.CreateRequest, stream pb.Backups_CreateServer) error {
	// Progress and ReplacedRead may come from different goroutines.
	var mu sync.Mutex
	sendEvent := func(ev *pb.CreateEvent) {
		mu.Lock()
		defer mu.Unlock()
		_ = stream.Send(ev) // a broken stream cancels the context
	}
	send := func(p Progress) {
		sendEvent(&pb.CreateEvent{Event: &pb.CreateEvent_Progress{Progress: &pb.Progress{Done: p.Done, Total: p.Total}}})
	}
	info, err := s.Impl.Create(stream.Context(), CreateRequest{
		StorageURL: req.GetStorageUrl(),
		Key:        req.GetKey(),
		DataDir:    req.GetDataDir(),
		Replace:    req.GetReplace(),
		Exclude:    req.GetExclude(),
		ReplacedRead: func() {
			sendEvent(&pb.CreateEvent{Event: &pb.CreateEvent_ReplacedRead{ReplacedRead: &pb.ReplacedRead{}}})
		},
	}, send)
	if err != nil {
		return ToStatus(err)
	}
	return stream.Send(&pb.CreateEvent{Event: &pb.CreateEvent_Done{Done: infoToProto(info)}})
}

// Upload serves Backups.Upload: a header, then chunks read as an io.Reader.
func (s *GRPCServer) Upload(stream pb.Backups_UploadServer) error {
	first, err := stream.Recv()
	if err != nil {
		return ToStatus(fmt.Errorf("upload: read header: %w", err))
	}
	header := first.GetHeader()
	if header == nil {
		return ToStatus(fmt.Errorf("upload: first message is not a header: %w", ErrInvalid))
	}
	body := &uploadReader{stream: stream}
	info, err := s.Impl.Upload(stream.Context(), header.GetStorageUrl(), header.GetKey(), body)
	if err != nil {
		return ToStatus(err)
	}
	return stream.SendAndClose(infoToProto(info))
}

// uploadReader reads the chunks of an Upload stream.
type uploadReader struct {
	stream  pb.Backups_UploadServer
	pending []byte
	err     error
}

func (r *uploadReader) Read(p []byte) (int, error) {
	for len(r.pending) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		msg, err := r.stream.Recv()
		if err != nil {
			// io.EOF: the host closed its side, the upload is complete.
			// Anything else (a cancelled host) must not look like a clean end.
			if !errors.Is(err, io.EOF) {
				err = fmt.Errorf("upload stream: %w", err)
			}
			r.err = err
			continue
		}
		r.pending = msg.GetChunk()
	}
	n := copy(p, r.pending)
	r.pending = r.pending[n:]
	return n, nil
}

// Open serves Backups.Open (StoredOpener.OpenStored when asked for the
// stored bytes and the plugin has them): a header, then ChunkSize chunks
// from one reused buffer.
func (s *GRPCServer) Open(req *pb.OpenRequest, stream pb.Backups_OpenServer) error {
	open := s.Impl.Open
	if so, ok := s.Impl.(StoredOpener); ok && req.GetStored() {
		open = so.OpenStored
	}
	dl, err := open(stream.Context(), req.GetStorageUrl(), req.GetKey(), req.GetOffset(), req.GetLength())
	if err != nil {
		return ToStatus(err)
	}
	defer dl.Close()
	header := &pb.OpenHeader{Info: infoToProto(dl.Info), Offset: dl.Offset, Length: dl.Length, Path: dl.Path}
	if err := stream.Send(&pb.OpenMessage{Msg: &pb.OpenMessage_Header{Header: header}}); err != nil {
		return err
	}
	if dl.Path != "" {
		return nil // the host reads the file itself
	}
	buf := make([]byte, ChunkSize)
	chunk := &pb.OpenMessage_Chunk{}
	msg := &pb.OpenMessage{Msg: chunk}
	for {
		n, readErr := io.ReadFull(dl, buf)
		if n > 0 {
			chunk.Chunk = buf[:n]
			if err := stream.Send(msg); err != nil {
				return err
			}
		}
		if errors.Is(readErr, io.EOF) || errors.Is(readErr, io.ErrUnexpectedEOF) {
			return nil
		}
		if readErr != nil {
			return ToStatus(fmt.Errorf("open: read %q: %w", req.GetKey(), readErr))
		}
	}
}

// Delete serves Backups.Delete.
func (s *GRPCServer) Delete(ctx context.Context, req *pb.KeyRequest) (*pb.Empty, error) {
	if err := s.Impl.Delete(ctx, req.GetStorageUrl(), req.GetKey()); err != nil {
		return nil, ToStatus(err)
	}
	return &pb.Empty{}, nil
}

// SetPinned serves Pinner.SetPinned when Impl is a Pinner.
func (s *GRPCServer) SetPinned(ctx context.Context, req *pb.PinRequest) (*pb.BackupInfo, error) {
	p, ok := s.Impl.(Pinner)
	if !ok {
		return nil, ToStatus(fmt.Errorf("pin: %w", ErrUnsupported))
	}
	info, err := p.SetPinned(ctx, req.GetStorageUrl(), req.GetKey(), req.GetPinned())
	if err != nil {
		return nil, ToStatus(err)
	}
	return infoToProto(info), nil
}

// Inspect serves Backups.Inspect.
func (s *GRPCServer) Inspect(ctx context.Context, req *pb.KeyRequest) (*pb.ArchiveSummary, error) {
	sum, err := s.Impl.Inspect(ctx, req.GetStorageUrl(), req.GetKey())
	if err != nil {
		return nil, ToStatus(err)
	}
	return &pb.ArchiveSummary{Entries: int64(sum.Entries), TotalBytes: sum.TotalBytes, HasDataDb: sum.HasDataDB}, nil
}

// Extract serves Backups.Extract, forwarding progress.
func (s *GRPCServer) Extract(req *pb.ExtractRequest, stream pb.Backups_ExtractServer) error {
	// One Send at a time, from whichever goroutine reports. Send errors
	// are ignored: a broken stream cancels the context, which ends the
	// extraction with the real error.
	var mu sync.Mutex
	send := func(p *pb.Progress) {
		mu.Lock()
		defer mu.Unlock()
		_ = stream.Send(p)
	}
	err := s.Impl.Extract(stream.Context(), ExtractRequest{
		StorageURL:         req.GetStorageUrl(),
		Key:                req.GetKey(),
		DestDir:            req.GetDestDir(),
		RootFilesExtracted: func() { send(&pb.Progress{RootFilesExtracted: true}) },
	}, func(p Progress) { send(&pb.Progress{Done: p.Done, Total: p.Total}) })
	return ToStatus(err)
}

// Verify serves Backups.Verify, forwarding progress and ending with the result.
func (s *GRPCServer) Verify(req *pb.VerifyRequest, stream pb.Backups_VerifyServer) error {
	var mu sync.Mutex
	progress := func(p Progress) {
		mu.Lock()
		defer mu.Unlock()
		_ = stream.Send(&pb.VerifyEvent{Event: &pb.VerifyEvent_Progress{Progress: &pb.Progress{Done: p.Done, Total: p.Total}}})
	}
	res, err := s.Impl.Verify(stream.Context(), VerifyRequest{
		StorageURL: req.GetStorageUrl(), Key: req.GetKey(), Mode: req.GetMode(), ScratchDir: req.GetScratchDir(),
	}, progress)
	if err != nil {
		return ToStatus(err)
	}
	mu.Lock()
	defer mu.Unlock()
	return stream.Send(&pb.VerifyEvent{Event: &pb.VerifyEvent_Done{Done: &pb.VerifyResult{
		Sha256: res.SHA256, FirstSeen: res.FirstSeen, Entries: int64(res.Entries),
		TotalBytes: res.TotalBytes, Problem: res.Problem, Extracted: res.Extracted,
	}}})
}
