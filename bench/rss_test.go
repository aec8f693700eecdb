package main

import (
	"os"
	"os/exec"
	"testing"
	"time"
)

// TestHelperProcess is the child of TestRSSSamplerChildren: it sleeps.
func TestHelperProcess(t *testing.T) {
	if os.Getenv("BENCH_HELPER_PROCESS") != "1" {
		return
	}
	time.Sleep(10 * time.Second)
	os.Exit(0)
}

// TestRSSSamplerChildren: a child running another executable is the
// plugin; a child running the "host's" own executable is a helper whose
// memory is added to the host's.
func TestRSSSamplerChildren(t *testing.T) {
	helper := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
	helper.Env = append(os.Environ(), "BENCH_HELPER_PROCESS=1")
	plugin := exec.Command("sleep", "10")
	for _, cmd := range []*exec.Cmd{helper, plugin} {
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	}

	if got := pluginOf(os.Getpid()); got != plugin.Process.Pid {
		t.Fatalf("pluginOf = %d, want the sleep child %d (helper %d)", got, plugin.Process.Pid, helper.Process.Pid)
	}
	s := newRSSSampler(os.Getpid())
	s.pluginPID = plugin.Process.Pid
	own, _, _, ok := memStatus(os.Getpid())
	if !ok {
		t.Fatal("no /proc status for this process")
	}
	// The helper's runtime needs a moment to map its memory.
	deadline := time.Now().Add(5 * time.Second)
	for {
		s.sample()
		if _, seen := s.helperStats("startup"); seen == 1 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	helperPeak, seen := s.helperStats("startup")
	if seen != 1 || helperPeak <= 0 {
		t.Fatalf("helpers seen %d, peak %d KiB: want the one helper", seen, helperPeak)
	}
	if host := s.peak("startup", procHost); host < own+helperPeak/2 {
		t.Fatalf("host peak %d KiB does not include the helper's %d KiB (own RSS %d KiB)", host, helperPeak, own)
	}
}

// TestReapedChildrenCPU: a child's CPU time counts for its parent once it
// has been waited for.
func TestReapedChildrenCPU(t *testing.T) {
	before := reapedChildrenCPU(os.Getpid())
	busy := exec.Command("sh", "-c", "i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done")
	if err := busy.Run(); err != nil {
		t.Fatal(err)
	}
	if got := reapedChildrenCPU(os.Getpid()) - before; got < 0.05 {
		t.Fatalf("reaped children's CPU grew by %.2f s after a busy child", got)
	}
}
