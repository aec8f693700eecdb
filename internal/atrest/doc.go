// Package atrest is encryption at rest for backups, with age
// (filippo.io/age): the keys an operator gives the host, the streaming
// encryption a backup is stored with, and the decryption that reads it back,
// sequentially or at any offset. It is the one place that knows the stored
// format, so the plugin, the host (the S3 secret in the settings) and an
// offline command (DecryptFile) agree on it. Nothing here is home-made
// crypto: age's X25519 (or hybrid post-quantum) recipients wrap a file key,
// and age's STREAM (64 KiB chunks, each authenticated) carries the bytes.
//
// Keys never leave this package in an error message and are never
// printed: Keys has no exported field and formats as "[redacted]".
package atrest
