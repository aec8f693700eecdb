// Package restore swaps a data directory's contents for a staged copy so
// that a crash at any moment leaves it wholly old or wholly new.
//
// The sequence: the staged tree is complete and fsynced; Prepare writes an
// intent journal (fsynced) naming every entry to move out and every entry
// to move in; Swap first moves every old entry into the old folder, then
// every staged entry into the data directory, fsyncing the directories;
// Finish or Rollback removes the journal. Moves are renames within one
// filesystem, so each is atomic, and because all old entries leave before
// any new one arrives, the state after any crash can be read off the
// filesystem: Resume completes the swap (roll forward), idempotently.
// The data directory itself is never moved: it may be a mount point.
//
// Durable means fsynced: every file the package writes, and every folder
// in which it creates, renames or removes an entry. Its filesystem calls
// go through a small unexported seam so that the tests can run them on a
// simulated disk and cut the power after each one.
//
// The journal may also carry stamps of the staged files the caller
// verified before the swap (PrepareChecked): renames keep a file's
// identity, so the verification at start (ResumeChecked) can tell what
// changed since and check only that, while the app is down.
//
// This package is pure filesystem code: it knows nothing of HTTP, plugins
// or databases (verification is a callback).
package restore
