// Package archive writes, checks and extracts the zip archives that hold a
// backup of a PocketBase-style data directory (pb_data).
//
// Archives are laid out the way PocketBase writes and restores them: regular
// files only, no directory entries, '/'-separated relative names, deflate at
// level 1, data.db at the root. [Write] streams such an archive from a
// directory tree. [Check] validates an archive from its central directory
// alone, and [Extract] checks it again while extracting it through an
// [os.Root], trusting no header: archives may be uploaded by anyone.
//
// The package knows nothing of plugins, gRPC or HTTP and uses only the
// standard library. Every rejection of an archive wraps [ErrInvalid].
package archive
