package shared

import (
	"context"
	"io"
	"time"
)

// BackupInfo describes one finished backup in storage.
type BackupInfo struct {
	Key      string
	Size     int64
	Modified time.Time
	// Pinned backups are never rotated, and are refused deletion until
	// unpinned. The pin is stored with the backup in its storage.
	Pinned bool
	// SHA256 is the lowercase hex SHA-256 of the whole stored object,
	// recorded when it was written; "" when the store has none for it.
	SHA256 string
	// Encrypted tells that the stored bytes are an age file (encryption at
	// rest); Size is then the plaintext's, what a download returns.
	Encrypted bool
	// StoredSize is the size in storage; 0 from plugins that do not
	// encrypt, where it is Size.
	StoredSize int64
}

// Stored returns the size of the bytes in storage.
func (b BackupInfo) Stored() int64 {
	if b.StoredSize > 0 {
		return b.StoredSize
	}
	return b.Size
}

// Progress reports how far a long operation has come. Total is 0 when it is
// not known yet.
type Progress struct {
	Done  int64
	Total int64
}

// ProgressFunc receives progress updates; it may be nil.
type ProgressFunc func(Progress)

// CreateRequest asks the plugin to archive a data directory into storage.
type CreateRequest struct {
	// StorageURL names the storage (a gocloud-style URL).
	StorageURL string
	// Key is the name of the backup to create, already validated by the host.
	Key string
	// DataDir is the absolute path of the data directory to archive.
	DataDir string
	// Replace maps a path relative to DataDir (with '/') to an absolute
	// file to archive in its place: the database snapshot standing in for a
	// live database, which may be the live file itself while the host holds
	// it frozen (a WAL database under a read transaction). The replaced
	// name's -wal and -shm companions are left out.
	Replace map[string]string
	// Exclude lists paths relative to DataDir (with '/') left out of the
	// archive, with everything below them.
	Exclude []string
	// ReplacedRead, if set, is called once the plugin has read every
	// Replace file to its end (they are archived first), so the host can
	// let frozen databases change again long before a slow upload ends. It
	// is not called if Create fails first, nor by plugins older than the
	// event: the host still releases everything when Create returns.
	ReplacedRead func()
}

// ArchiveSummary is what a cheap check of a stored archive found.
type ArchiveSummary struct {
	Entries    int
	TotalBytes int64 // uncompressed
	HasDataDB  bool
}

// ExtractRequest asks the plugin to fetch a backup and extract it into a
// staging directory.
type ExtractRequest struct {
	StorageURL string
	Key        string
	// DestDir must exist and be empty; it is on the data directory's filesystem.
	DestDir string
	// RootFilesExtracted, if set, is called once every file at the
	// archive's root (the databases) is written, while the rest may still
	// be extracting, so the host can start checking them. A plugin older
	// than it never calls it. Calls never overlap the progress callback's.
	RootFilesExtracted func()
}

// Download is an open backup being streamed to the host. Close it.
type Download struct {
	Info BackupInfo
	// Offset and Length describe the byte range being read.
	Offset int64
	Length int64
	// Path, when set, is the backup as a local file that the reader may
	// read itself (zero-copy); the ReadCloser then reads that file.
	Path string
	io.ReadCloser
}

// Backups is what the host asks of the backup plugin. Every method takes
// the storage URL so that a relaunched or reattached plugin needs no state.
type Backups interface {
	// List returns the finished backups, in no particular order.
	List(ctx context.Context, storageURL string) ([]BackupInfo, error)
	// Stat returns one backup, or ErrNotFound.
	Stat(ctx context.Context, storageURL, key string) (BackupInfo, error)
	// Create archives a data directory into storage under req.Key. On error
	// nothing is left in storage.
	Create(ctx context.Context, req CreateRequest, progress ProgressFunc) (BackupInfo, error)
	// Upload checks that body is a sane zip and stores it under key. On
	// error nothing is left in storage. ErrExists if key is taken,
	// ErrInvalid if body is not an acceptable archive.
	Upload(ctx context.Context, storageURL, key string, body io.Reader) (BackupInfo, error)
	// Open streams length bytes of a backup from offset (length < 0: to the end).
	Open(ctx context.Context, storageURL, key string, offset, length int64) (*Download, error)
	// Delete removes a backup, or returns ErrNotFound.
	Delete(ctx context.Context, storageURL, key string) error
	// Inspect cheaply checks a stored archive (its central directory only).
	Inspect(ctx context.Context, storageURL, key string) (ArchiveSummary, error)
	// Extract fetches a backup and extracts it into req.DestDir, bounded.
	// When a digest is stored with the backup, what is read must match it
	// (ErrInvalid otherwise).
	Extract(ctx context.Context, req ExtractRequest, progress ProgressFunc) error
	// Verify reads a backup once and checks it (see VerifyRequest). A
	// backup that fails a check is a result with Problem set, not an
	// error; errors are the storage's or the request's.
	Verify(ctx context.Context, req VerifyRequest, progress ProgressFunc) (VerifyResult, error)
}

// Verify modes.
const (
	VerifyQuick = "quick"
	VerifyDeep  = "deep"
)

// VerifyRequest asks the plugin to check a stored backup: quick reads it
// once, compares its digest with the stored one (and stores one when
// there is none), and proves the zip's structure, every entry's CRC-32
// and the hostile-archive rules; deep also extracts it into
// ScratchDir/data for the host to check its databases.
type VerifyRequest struct {
	StorageURL string
	Key        string
	Mode       string
	// ScratchDir must exist and be empty, on the data directory's
	// filesystem: where a remote backup is fetched to and a deep verify
	// extracts. The host removes it afterwards.
	ScratchDir string
}

// VerifyResult is what a verification found.
type VerifyResult struct {
	// SHA256 is the digest of the bytes read.
	SHA256 string
	// FirstSeen is set when no digest was stored with the backup: the one
	// read has been recorded now, so this verify proves nothing about the
	// time before it.
	FirstSeen bool
	Entries   int
	// TotalBytes is the uncompressed size of the entries.
	TotalBytes int64
	// Problem is empty when every check passed; otherwise what is wrong,
	// naming the entry and the reason when it is about one entry.
	Problem string
	// Extracted is where a deep verify extracted the archive (only when
	// Problem is empty).
	Extracted string
}

// Pinner is implemented by plugins that can pin backups (the GRPCClient
// does; a plugin older than pins answers ErrUnsupported).
type Pinner interface {
	// SetPinned pins or unpins key and returns its info: ErrNotFound for
	// an unknown key, ErrUnsupported when the storage cannot keep a pin.
	SetPinned(ctx context.Context, storageURL, key string, pinned bool) (BackupInfo, error)
}

// StoredOpener is implemented by plugins that encrypt backups at rest:
// OpenStored streams a backup's bytes as stored (an encrypted backup not
// decrypted), offset and length counting stored bytes. A plugin that does
// not encrypt stores plain zips, which Open returns as they are.
type StoredOpener interface {
	OpenStored(ctx context.Context, storageURL, key string, offset, length int64) (*Download, error)
}

// PipeUploader is implemented by the GRPCClient: Upload with the body
// handed to the plugin through a named pipe made in dir (a folder of the
// host's on this machine) rather than copied into gRPC messages, which are
// marshalled, framed and copied again on both sides. Where a pipe cannot
// be made, or the plugin predates them, it is Upload.
type PipeUploader interface {
	UploadThroughPipe(ctx context.Context, dir, storageURL, key string, body io.Reader) (BackupInfo, error)
}
