//go:build !linux

package storage_test

import "os/exec"

// setEmulatorProcAttr does nothing here: TestMain stops the emulators.
func setEmulatorProcAttr(*exec.Cmd) {}
