package sqlitesnap

import (
	"os"
	"testing"
)

// TestMain turns this test binary into the database checker when
// VerifyInChild starts it again, as an app's main does.
func TestMain(m *testing.M) {
	if code, ok := CheckerChild(); ok {
		os.Exit(code)
	}
	os.Exit(m.Run())
}
