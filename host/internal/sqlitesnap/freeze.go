package sqlitesnap

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// freezeAttempts bounds the tries to find the WAL fully backfilled under
// the write lock before the database is copied instead.
const freezeAttempts = 3

// checkpointWait bounds how long backfill waits for another connection's
// checkpoint to finish.
const checkpointWait = 2 * time.Second

// errIncomplete reports a checkpoint that could not backfill the whole WAL.
var errIncomplete = errors.New("checkpoint incomplete")

// frozenDB is a WAL-mode database whose file cannot change: one of its
// connections holds a read transaction that began when the WAL was fully
// checkpointed, so the archive reads the live file as the snapshot.
//
// Why the file cannot change: in WAL mode a commit only appends to the
// -wal file. The database file is written by a checkpoint alone, copying
// frames back ("backfill", then truncating the file when the copy is
// complete), and a checkpoint backfills only while it holds
// WAL_READ_LOCK(0) exclusively. A read transaction that begins when every
// frame is backfilled (nBackfill == mxFrame) takes WAL_READ_LOCK(0) shared
// and reads the database file alone; should that lock be busy it takes a
// read mark equal to mxFrame instead, past which no frame is backfilled
// and which keeps the WAL from restarting. Either way no checkpoint
// (automatic, PASSIVE, FULL, RESTART or TRUNCATE, from any connection)
// writes the database file until the read transaction ends, while writers
// go on committing to the WAL, which grows meanwhile.
//
// Costs while frozen: automatic checkpoints (PASSIVE) give up at once, but
// a FULL, RESTART or TRUNCATE checkpoint the app may run takes the write
// lock and then waits out its busy timeout for WAL_READ_LOCK(0), holding
// the app's writers that long. The argument rests on SQLite's own locks:
// a second copy of SQLite in the same process, or a file system whose
// POSIX locks do not work, defeats it (as it defeats any read
// transaction); unchanged is the tripwire for that.
type frozenDB struct {
	path string
	db   *sql.DB
	// read holds the pinning read transaction (inTx) until close.
	read *sql.Conn
	inTx bool
	// info is the file as frozen, compared again by unchanged.
	info os.FileInfo
	// writeLock is how long writers were held off while freezing.
	writeLock time.Duration
}

// freezeDatabase freezes the WAL database at path in place:
//
//  1. a PASSIVE checkpoint backfills the bulk of the WAL without blocking
//     writers (after waiting for one the app may be running);
//  2. BEGIN IMMEDIATE on a second connection takes the write lock: the
//     app's writers wait on their busy timeout and the WAL stops growing;
//  3. a second PASSIVE checkpoint backfills what was appended since, and
//     must report every frame backfilled (an older reader can hold it
//     back, or an automatic checkpoint the checkpoint lock: then the
//     whole sequence is tried again, freezeAttempts times);
//  4. a read transaction begins on the first connection and reads, so
//     that its WAL lock is taken on the fully backfilled WAL;
//  5. ROLLBACK on the second connection lets the writers go.
//
// Only steps 3 and 4 hold writers off: a few ms, unless step 3 has much
// to backfill. The file must then be exactly page_count*page_size bytes
// (a complete checkpoint truncates it so), so that it holds the snapshot
// and nothing else. On any failure nothing is left open and the error
// says why; the caller copies the database instead.
func freezeDatabase(ctx context.Context, path string) (*frozenDB, error) {
	db, err := sql.Open("sqlite", sqliteDSN(path))
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(2)
	f := &frozenDB{path: path, db: db}
	if err := f.freeze(ctx); err != nil {
		return nil, errors.Join(err, f.close(ctx))
	}
	return f, nil
}

func (f *frozenDB) freeze(ctx context.Context) (err error) {
	if f.read, err = f.db.Conn(ctx); err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	var mode string
	if err := f.read.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return fmt.Errorf("journal mode: %w", err)
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("journal mode %s, not wal", mode)
	}
	write, err := f.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer func() { err = errors.Join(err, write.Close()) }()
	var size int64 // of the snapshot, in bytes
	for attempt := 1; ; attempt++ {
		if err := backfill(ctx, f.read); err != nil {
			return err
		}
		size, err = f.pin(ctx, write)
		if err == nil {
			break
		}
		if !errors.Is(err, errIncomplete) || attempt == freezeAttempts {
			return err
		}
	}
	info, err := os.Stat(f.path)
	if err != nil {
		return err
	}
	if info.Size() != size {
		return fmt.Errorf("file is %d bytes, its snapshot %d", info.Size(), size)
	}
	f.info = info
	return nil
}

// pin takes the write lock on write, completes the checkpoint, begins the
// read transaction on f.read and releases the write lock (steps 2-5 of
// freezeDatabase). It returns the snapshot's size in bytes. An
// errIncomplete leaves no read transaction.
func (f *frozenDB) pin(ctx context.Context, write *sql.Conn) (size int64, err error) {
	if _, err := write.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return 0, fmt.Errorf("take write lock: %w", err)
	}
	locked := time.Now()
	defer func() {
		// Even when ctx is done: the app's writers are waiting.
		_, rbErr := write.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
		f.writeLock += time.Since(locked)
		if rbErr != nil {
			err = errors.Join(err, fmt.Errorf("release write lock: %w", rbErr))
		}
	}()
	c, err := passiveCheckpoint(ctx, f.read)
	if err != nil {
		return 0, err
	}
	if !c.complete() {
		return 0, fmt.Errorf("%w: busy %d, %d of %d frames backfilled", errIncomplete, c.busy, c.checkpointed, c.log)
	}
	if _, err := f.read.ExecContext(ctx, "BEGIN"); err != nil {
		return 0, fmt.Errorf("begin read: %w", err)
	}
	f.inTx = true
	// BEGIN is deferred: the first read takes the WAL read lock, while no
	// frame can be appended.
	var n, pages, pageSize int64
	if err := f.read.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema").Scan(&n); err != nil {
		return 0, fmt.Errorf("begin read: %w", err)
	}
	if err := f.read.QueryRowContext(ctx, "PRAGMA page_count").Scan(&pages); err != nil {
		return 0, fmt.Errorf("page count: %w", err)
	}
	if err := f.read.QueryRowContext(ctx, "PRAGMA page_size").Scan(&pageSize); err != nil {
		return 0, fmt.Errorf("page size: %w", err)
	}
	return pages * pageSize, nil
}

// unchanged reports an error unless the file is still the one frozen, with
// the same size and modification time. It is a tripwire, not a proof: a
// write within the file system's timestamp granularity that keeps the
// size would go unseen.
func (f *frozenDB) unchanged() error {
	now, err := os.Stat(f.path)
	if err != nil {
		return fmt.Errorf("database %s changed while it was archived: %w", filepath.Base(f.path), err)
	}
	if !os.SameFile(f.info, now) || now.Size() != f.info.Size() || !now.ModTime().Equal(f.info.ModTime()) {
		return fmt.Errorf("database %s changed while it was archived", filepath.Base(f.path))
	}
	return nil
}

// close ends the read transaction, if any, and closes the connections,
// even when ctx is done.
func (f *frozenDB) close(ctx context.Context) error {
	var errs []error
	if f.inTx {
		if _, err := f.read.ExecContext(context.WithoutCancel(ctx), "ROLLBACK"); err != nil {
			errs = append(errs, fmt.Errorf("end read: %w", err))
		}
		f.inTx = false
	}
	if f.read != nil {
		errs = append(errs, f.read.Close())
		f.read = nil
	}
	errs = append(errs, f.db.Close())
	return errors.Join(errs...)
}

// walCheckpoint is the row PRAGMA wal_checkpoint answers.
type walCheckpoint struct {
	busy         int64 // 1 if another checkpoint was running
	log          int64 // frames in the WAL; -1 when not in WAL mode
	checkpointed int64 // frames backfilled into the database file
}

// complete reports every frame backfilled (an empty WAL: 0 of 0).
func (c walCheckpoint) complete() bool {
	return c.busy == 0 && c.log >= 0 && c.checkpointed == c.log
}

// backfill runs PASSIVE checkpoints on conn until one runs: while another
// connection checkpoints (as the app does after a commit once the WAL
// passes wal_autocheckpoint pages), the checkpoint lock is taken, and a
// busy handler is never invoked for it.
func backfill(ctx context.Context, conn *sql.Conn) error {
	deadline := time.Now().Add(checkpointWait)
	for delay := time.Millisecond; ; delay = min(2*delay, 50*time.Millisecond) {
		c, err := passiveCheckpoint(ctx, conn)
		if err != nil || c.busy == 0 {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("checkpoint: another checkpoint kept running for %v", checkpointWait)
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// passiveCheckpoint backfills what it can without waiting on anyone.
func passiveCheckpoint(ctx context.Context, conn *sql.Conn) (walCheckpoint, error) {
	var c walCheckpoint
	if err := conn.QueryRowContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)").Scan(&c.busy, &c.log, &c.checkpointed); err != nil {
		return c, fmt.Errorf("checkpoint: %w", err)
	}
	return c, nil
}
