// Package zipsig tells from a file's first bytes whether it starts a zip
// archive. It is its own leaf package because the host (which may not
// import archive), the plugin and the archive code all make this check on
// uploads and must agree on it.
package zipsig

// Len is how many leading bytes Starts needs.
const Len = 4

// Starts reports whether head, the first bytes of a file, starts a zip
// archive: a local file header ("PK\x03\x04") or the end record of an
// empty archive ("PK\x05\x06").
func Starts(head []byte) bool {
	if len(head) < Len {
		return false
	}
	s := string(head[:Len])
	return s == "PK\x03\x04" || s == "PK\x05\x06"
}
