package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Processes the sampler watches.
const (
	procHost   = "host"
	procPlugin = "plugin"
)

// rssSampler records, per phase, the peak resident memory of the host
// process and of its plugin child, from /proc. The host's figures include
// its helper children (processes of the host's own executable, such as
// the restore's database checker): their memory is the host's.
//
// At each phase start it resets the kernel's high-water mark (VmHWM, via
// /proc/PID/clear_refs "5") and from then on reads VmRSS and VmHWM every
// 20 ms: VmHWM catches peaks between samples, VmRSS keeps counting when
// the host re-executes itself during a restore (an exec resets VmHWM).
type rssSampler struct {
	hostPID int

	mu         sync.Mutex
	phase      string
	phaseStart time.Time
	peaks      map[string]map[string]int64   // phase -> process -> KiB
	cpu        map[string]map[string]float64 // phase -> process -> CPU seconds
	cpuStart   map[string]float64            // process -> CPU seconds at phase start
	pluginPID  int
	pluginPIDs map[int]bool // every plugin PID seen
	lastScan   time.Time
	resetErr   error            // clear_refs failed: peaks come from VmRSS samples only
	dirty      map[string]int64 // phase -> peak KiB of dirty + writeback page cache
	// phase -> process -> the largest VmRSS sample, split into anonymous,
	// file-backed and shared memory (KiB)
	split map[string]map[string]rssSplit
	// phase -> peak KiB of the host's helper children alone, and how many
	// were seen
	helperPeak map[string]int64
	helpers    map[int]bool
}

// rssSplit is one VmRSS sample: RssAnon + RssFile + RssShmem.
type rssSplit struct {
	RSS, Anon, File, Shmem int64
	At                     time.Duration // since the phase started
}

// plus adds o's memory to r's (r's time is kept).
func (r rssSplit) plus(o rssSplit) rssSplit {
	r.RSS, r.Anon, r.File, r.Shmem = r.RSS+o.RSS, r.Anon+o.Anon, r.File+o.File, r.Shmem+o.Shmem
	return r
}

func (r rssSplit) String() string {
	return fmt.Sprintf("%.1f MiB (anon %.1f, file %.1f, shmem %.1f) at %+.1f s",
		float64(r.RSS)/1024, float64(r.Anon)/1024, float64(r.File)/1024, float64(r.Shmem)/1024, r.At.Seconds())
}

func newRSSSampler(hostPID int) *rssSampler {
	return &rssSampler{
		hostPID:    hostPID,
		phase:      "startup",
		peaks:      map[string]map[string]int64{},
		cpu:        map[string]map[string]float64{},
		cpuStart:   map[string]float64{},
		pluginPIDs: map[int]bool{},
		dirty:      map[string]int64{},
		split:      map[string]map[string]rssSplit{},
		helperPeak: map[string]int64{},
		helpers:    map[int]bool{},
	}
}

// run samples until ctx ends.
func (s *rssSampler) run(ctx context.Context) {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		s.sample()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// setPhase closes the current phase and starts phase name.
func (s *rssSampler) setPhase(name string) {
	s.sample()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closeCPU()
	s.phase = name
	s.phaseStart = time.Now()
	for proc, pid := range s.pidsLocked() {
		if err := os.WriteFile("/proc/"+strconv.Itoa(pid)+"/clear_refs", []byte("5"), 0); err != nil && s.resetErr == nil {
			s.resetErr = err
		}
		s.cpuStart[proc] = cpuSeconds(pid)
	}
	s.sampleLocked()
}

// closeCPU records the CPU time the processes used in the current phase.
func (s *rssSampler) closeCPU() {
	for proc, pid := range s.pidsLocked() {
		start, ok := s.cpuStart[proc]
		if !ok {
			continue
		}
		if s.cpu[s.phase] == nil {
			s.cpu[s.phase] = map[string]float64{}
		}
		s.cpu[s.phase][proc] += cpuSeconds(pid) - start
		delete(s.cpuStart, proc)
	}
}

// peak returns the peak KiB of proc in phase (0: never seen).
func (s *rssSampler) peak(phase, proc string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.peaks[phase][proc]
}

// cpuOf returns the CPU seconds proc used in phase.
func (s *rssSampler) cpuOf(phase, proc string) float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cpu[phase][proc]
}

// dirtyPeak returns the peak KiB of dirty and writeback page cache in phase.
func (s *rssSampler) dirtyPeak(phase string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dirty[phase]
}

// dirtyKiB is Dirty + Writeback of /proc/meminfo: the page cache waiting
// for the disk. Past a threshold the kernel pauses every process that
// writes (up to 200 ms at a time), the app's database writes included.
func dirtyKiB() int64 {
	var n int64
	for _, key := range []string{"Dirty", "Writeback"} {
		if v := procField("/proc/meminfo", key); v != "" {
			kib, _ := strconv.ParseInt(strings.Fields(v)[0], 10, 64)
			n += kib
		}
	}
	return n
}

// plugins returns how many plugin processes were seen.
func (s *rssSampler) plugins() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.pluginPIDs)
}

func (s *rssSampler) sample() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sampleLocked()
}

func (s *rssSampler) sampleLocked() {
	if s.peaks[s.phase] == nil {
		s.peaks[s.phase] = map[string]int64{}
	}
	s.dirty[s.phase] = max(s.dirty[s.phase], dirtyKiB())
	for proc, pid := range s.pidsLocked() {
		rss, hwm, sp, ok := memStatus(pid)
		if !ok {
			if proc == procPlugin {
				s.pluginPID = 0 // gone: look for its successor next time
			}
			continue
		}
		peak := rss
		if s.resetErr == nil {
			peak = max(peak, hwm)
		}
		if proc == procHost {
			// Summing each helper's own high-water mark with the host's
			// may add peaks of different moments: it errs high.
			_, hPeak, hSplit := s.helpersLocked()
			s.helperPeak[s.phase] = max(s.helperPeak[s.phase], hPeak)
			peak += hPeak
			sp = sp.plus(hSplit)
		}
		s.peaks[s.phase][proc] = max(s.peaks[s.phase][proc], peak)
		if s.split[s.phase] == nil {
			s.split[s.phase] = map[string]rssSplit{}
		}
		if sp.RSS > s.split[s.phase][proc].RSS {
			sp.At = time.Since(s.phaseStart)
			s.split[s.phase][proc] = sp
		}
	}
}

// pidsLocked returns the processes to sample, finding the plugin (the
// host's live child) again when it is unknown, every 250 ms at most.
func (s *rssSampler) pidsLocked() map[string]int {
	if s.pluginPID == 0 && time.Since(s.lastScan) > 250*time.Millisecond {
		s.lastScan = time.Now()
		if pid := pluginOf(s.hostPID); pid != 0 {
			s.pluginPID = pid
			s.pluginPIDs[pid] = true
		}
	}
	out := map[string]int{procHost: s.hostPID}
	if s.pluginPID != 0 {
		out[procPlugin] = s.pluginPID
	}
	return out
}

// helpersLocked sums the memory of the host's live helper children: its
// children running the host's own executable (the plugin runs another).
// A helper's peak is its VmHWM, which covers its whole short life.
func (s *rssSampler) helpersLocked() (rss, peak int64, sp rssSplit) {
	helpers, _ := hostChildren(s.hostPID)
	for _, pid := range helpers {
		r, hwm, one, ok := memStatus(pid)
		if !ok {
			continue
		}
		s.helpers[pid] = true
		rss += r
		peak += max(r, hwm)
		sp = sp.plus(one)
	}
	return rss, peak, sp
}

// helperStats returns the peak KiB of the host's helper children in phase
// and how many helpers were seen in the whole run.
func (s *rssSampler) helperStats(phase string) (peakKiB int64, seen int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.helperPeak[phase], len(s.helpers)
}

// childrenOf lists the child processes of pid, from each of its threads'
// /proc/PID/task/TID/children (every thread can be a parent).
func childrenOf(pid int) []int {
	tasks, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/task")
	if err != nil {
		return nil
	}
	var out []int
	for _, t := range tasks {
		data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/task/" + t.Name() + "/children")
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(data)) {
			if child, err := strconv.Atoi(f); err == nil {
				out = append(out, child)
			}
		}
	}
	return out
}

// largestSample returns the largest VmRSS sample of proc in phase.
func (s *rssSampler) largestSample(phase, proc string) rssSplit {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.split[phase][proc]
}

// memStatus reads VmRSS and VmHWM (KiB) of pid, and how VmRSS splits.
func memStatus(pid int) (rss, hwm int64, sp rssSplit, ok bool) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, 0, sp, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	state := ""
	for sc.Scan() {
		line := sc.Text()
		key, val, found := strings.Cut(line, ":")
		if !found {
			continue
		}
		fields := strings.Fields(val)
		if len(fields) == 0 {
			continue
		}
		switch key {
		case "State":
			state = fields[0]
		case "VmRSS":
			rss, _ = strconv.ParseInt(fields[0], 10, 64)
		case "VmHWM":
			hwm, _ = strconv.ParseInt(fields[0], 10, 64)
		case "RssAnon":
			sp.Anon, _ = strconv.ParseInt(fields[0], 10, 64)
		case "RssFile":
			sp.File, _ = strconv.ParseInt(fields[0], 10, 64)
		case "RssShmem":
			sp.Shmem, _ = strconv.ParseInt(fields[0], 10, 64)
		}
	}
	sp.RSS = rss
	return rss, hwm, sp, state != "Z" && state != "X" && rss > 0
}

// pluginOf returns the PID of the host's live plugin: its child running
// another executable than the host's own (0: none).
func pluginOf(hostPID int) int {
	_, others := hostChildren(hostPID)
	for _, child := range others {
		if state, _, ok := procStat(child); ok && state != "Z" && state != "X" {
			return child
		}
	}
	return 0
}

// hostChildren splits the host's children into helpers, running the host's
// own executable, and others (the plugin).
func hostChildren(hostPID int) (helpers, others []int) {
	hostExe, err := os.Readlink("/proc/" + strconv.Itoa(hostPID) + "/exe")
	if err != nil {
		return nil, nil
	}
	for _, child := range childrenOf(hostPID) {
		exe, err := os.Readlink("/proc/" + strconv.Itoa(child) + "/exe")
		switch {
		case err != nil: // gone
		case exe == hostExe:
			helpers = append(helpers, child)
		default:
			others = append(others, child)
		}
	}
	return helpers, others
}

// procStat returns the state and parent PID fields of /proc/PID/stat.
func procStat(pid int) (state, ppid string, ok bool) {
	fields, ok := statFields(pid)
	if !ok || len(fields) < 2 {
		return "", "", false
	}
	return fields[0], fields[1], true
}

// statFields returns the fields of /proc/PID/stat after the command name
// (field 3, the state, first).
func statFields(pid int) ([]string, bool) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return nil, false
	}
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return nil, false
	}
	return strings.Fields(string(data[i+1:])), true
}

// clockTicks is USER_HZ, 100 on every Linux the bench runs on.
const clockTicks = 100

// cpuSeconds is the user+system CPU time of pid so far.
func cpuSeconds(pid int) float64 {
	// utime and stime are fields 14 and 15 of the whole line.
	return statSeconds(pid, 11)
}

// reapedChildrenCPU is the user+system CPU time of pid's children that
// have ended and been waited for (cutime + cstime): the host's database
// checker, once done.
func reapedChildrenCPU(pid int) float64 {
	// cutime and cstime are fields 16 and 17 of the whole line.
	return statSeconds(pid, 13)
}

// statSeconds adds the two clock-tick fields of /proc/PID/stat at i and
// i+1 (counted after the command name) and returns seconds.
func statSeconds(pid, i int) float64 {
	fields, ok := statFields(pid)
	if !ok || len(fields) < i+2 {
		return 0
	}
	a, _ := strconv.ParseInt(fields[i], 10, 64)
	b, _ := strconv.ParseInt(fields[i+1], 10, 64)
	return float64(a+b) / clockTicks
}
