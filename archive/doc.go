// Package archive writes, checks and extracts the zip archives that hold a
// backup of a PocketBase-style data directory (pb_data).
//
// Archives are laid out the way PocketBase writes and restores them: regular
// files only, no directory entries, '/'-separated relative names, data.db at
// the root, every entry deflated (at the speed of level 1) or, when its
// content does not compress, stored. [Write] streams such an archive from a
// directory tree, compressing on every core with bounded memory. [Check]
// validates an archive from its central directory alone, and [Extract]
// checks it again while extracting it through an [os.Root], on every core,
// trusting no header: archives may be uploaded by anyone.
//
// The package knows nothing of plugins, gRPC or HTTP. Besides the standard
// library it uses Intel ISA-L's igzip when libisal.so.2 is on the machine
// (internal/isal, loaded at run time), else github.com/klauspost/compress/flate
// (plain Deflate either way, faster than compress/flate), on Linux,
// golang.org/x/sys/unix, and the project's one character rule for names
// (internal/safename). Every rejection of an archive wraps [ErrInvalid].
package archive
