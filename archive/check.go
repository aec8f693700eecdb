package archive

import (
	"archive/zip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"sync"
)

// ErrInvalid is wrapped by every rejection of an archive by [Check] and
// [Extract]. Errors that are not about the archive's content (reading the
// source, writing the destination, a cancelled context) do not wrap it.
var ErrInvalid = errors.New("invalid archive")

// Limits caps what an archive may hold. A zero (or negative) field means
// the default from [DefaultLimits].
type Limits struct {
	MaxEntries    int   // entries in the central directory; default 1,000,000
	MaxTotalBytes int64 // sum of uncompressed sizes; default 1 TiB
	// MaxRatio caps uncompressed/compressed size for each entry of at
	// least 1 MiB uncompressed; default 1000.
	MaxRatio int64
}

// ratioMinSize is the uncompressed size from which Limits.MaxRatio applies.
const ratioMinSize = 1 << 20

// DefaultLimits returns the limits used for zero fields of a [Limits].
func DefaultLimits() Limits {
	return Limits{
		MaxEntries:    1_000_000,
		MaxTotalBytes: 1 << 40,
		MaxRatio:      1000,
	}
}

// withDefaults fills zero or negative fields from DefaultLimits.
func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.MaxEntries <= 0 {
		l.MaxEntries = d.MaxEntries
	}
	if l.MaxTotalBytes <= 0 {
		l.MaxTotalBytes = d.MaxTotalBytes
	}
	if l.MaxRatio <= 0 {
		l.MaxRatio = d.MaxRatio
	}
	return l
}

// Summary describes an archive that passed [Check]: what [Extract] makes
// of it.
type Summary struct {
	Entries    int   // entries extracted (files and directories)
	TotalBytes int64 // sum of their declared uncompressed sizes
	HasDataDB  bool  // a regular file entry named exactly "data.db"
	// Skipped names the file entries that are never extracted, in archive
	// order: SQLite rollback journals (see [RollbackJournal]).
	Skipped []string
}

// Check validates the zip archive of size bytes in r from its central
// directory alone, without reading any entry's data: with remote storage,
// r may be backed by range reads.
//
// It rejects, wrapping [ErrInvalid]: empty, truncated or unreadable input;
// a name that is not valid (see [ValidName]); an entry that is neither a
// regular file nor a directory (symlinks included) or a directory with
// content; the same name twice (also "a" and "a/"; case counts) or an entry
// below a file; a method other than Store or Deflate; encryption; a stored
// entry whose compressed and uncompressed sizes differ; compressed sizes that
// add up to more than the input (overlapping entries); and more entries,
// total bytes or per-entry ratio than limits allow.
//
// A rollback journal ("data.db-journal") passes the check but is reported
// in Summary.Skipped and left out of the other counts, as Extract leaves it
// out. Limits apply to the whole archive, journals included.
//
// An error reading r itself is returned as is, not as ErrInvalid.
func Check(r io.ReaderAt, size int64, limits Limits) (Summary, error) {
	src := &sourceReader{r: r, size: size}
	zr, err := openZip(src, size)
	if err != nil {
		return Summary{}, err
	}
	return check(zr, size, limits.withDefaults())
}

// openZip reads the central directory of the archive in src.
func openZip(src *sourceReader, size int64) (*zip.Reader, error) {
	if size <= 0 {
		return nil, fmt.Errorf("%w: empty input", ErrInvalid)
	}
	zr, err := zip.NewReader(src, size)
	if err := src.failure(); err != nil {
		return nil, fmt.Errorf("read archive: %w", err)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return zr, nil
}

// check validates the entries of zr (see Check); limits have no zero
// fields.
func check(zr *zip.Reader, size int64, limits Limits) (Summary, error) {
	if n := len(zr.File); n > limits.MaxEntries {
		return Summary{}, fmt.Errorf("%w: %d entries, more than %d", ErrInvalid, n, limits.MaxEntries)
	}
	var (
		sum        Summary
		t          tree
		compressed uint64
		total      int64 // journals included
	)
	for _, f := range zr.File {
		if err := checkEntry(f, size, limits); err != nil {
			return Summary{}, fmt.Errorf("%w: entry %q: %w", ErrInvalid, f.Name, err)
		}
		if err := t.add(f.Name); err != nil {
			return Summary{}, fmt.Errorf("%w: entry %q: %w", ErrInvalid, f.Name, err)
		}
		// Each term is at most size (checkEntry), so neither sum overflows
		// before it is compared.
		compressed += f.CompressedSize64
		if compressed > uint64(size) {
			return Summary{}, fmt.Errorf("%w: entry %q: compressed sizes add up to more than the archive", ErrInvalid, f.Name)
		}
		total += int64(f.UncompressedSize64)
		if total > limits.MaxTotalBytes {
			return Summary{}, fmt.Errorf("%w: entry %q: total size over %d bytes", ErrInvalid, f.Name, limits.MaxTotalBytes)
		}
		if RollbackJournal(f.Name) {
			sum.Skipped = append(sum.Skipped, f.Name)
			continue
		}
		sum.TotalBytes += int64(f.UncompressedSize64)
		sum.Entries++
		if f.Name == "data.db" {
			sum.HasDataDB = true
		}
	}
	return sum, nil
}

// checkEntry validates one entry on its own, from its central directory
// record.
func checkEntry(f *zip.File, size int64, limits Limits) error {
	if !ValidName(f.Name) {
		return errors.New("unsafe name")
	}
	isDir := f.Name[len(f.Name)-1] == '/'
	switch mode := f.Mode(); {
	case isDir && mode.IsDir():
		if f.UncompressedSize64 != 0 {
			return errors.New("directory with content")
		}
	case !isDir && mode.IsRegular():
	default:
		return fmt.Errorf("not a regular file or directory (mode %v)", mode&fs.ModeType)
	}
	if f.Flags&0x1 != 0 {
		return errors.New("encrypted")
	}
	switch f.Method {
	case zip.Store:
		if f.CompressedSize64 != f.UncompressedSize64 {
			return errors.New("stored entry with different compressed and uncompressed sizes")
		}
	case zip.Deflate:
	default:
		return fmt.Errorf("unsupported method %d", f.Method)
	}
	if f.CompressedSize64 > uint64(size) {
		return errors.New("compressed size larger than the archive")
	}
	if f.UncompressedSize64 > uint64(limits.MaxTotalBytes) {
		return fmt.Errorf("size over %d bytes", limits.MaxTotalBytes)
	}
	if u, c := f.UncompressedSize64, f.CompressedSize64; u >= ratioMinSize && (c == 0 || u/c > uint64(limits.MaxRatio)) {
		return fmt.Errorf("compression ratio over %d", limits.MaxRatio)
	}
	return nil
}

// sourceReader reads the size bytes of an archive from r. It answers
// io.EOF for anything past size (or before 0) without asking r, so offsets
// taken from hostile headers never reach the storage behind r, and it
// remembers the first error of r other than io.EOF, so that a failure to
// read the source (a network error with remote storage) is not mistaken for
// an invalid archive. It may be read from several goroutines at once if r
// may.
type sourceReader struct {
	r    io.ReaderAt
	size int64

	mu  sync.Mutex
	err error
}

func (s *sourceReader) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 || off >= s.size {
		return 0, io.EOF
	}
	short := false
	if rest := s.size - off; int64(len(p)) > rest {
		p, short = p[:rest], true
	}
	n, err := s.r.ReadAt(p, off)
	if err != nil && err != io.EOF {
		s.mu.Lock()
		if s.err == nil {
			s.err = err
		}
		s.mu.Unlock()
	}
	if err == nil && short {
		err = io.EOF
	}
	return n, err
}

// failure returns the first error of r other than io.EOF, or nil.
func (s *sourceReader) failure() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}
