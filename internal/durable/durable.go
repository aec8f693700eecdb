// Package durable is the one place that says what makes a write last: the
// fsync of a directory after entries are created, renamed or removed in
// it, the write-temp-fsync-rename-fsync sequence of an atomic file write,
// and the write-back hint that is no durability point at all. archive,
// restore, plugin/storage and host all make writes that must outlive a
// power cut and must agree on how; litestream keeps its fsync helpers
// in one small package the same way.
//
// It imports nothing of this module, so every layer may use it.
package durable
