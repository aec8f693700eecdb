package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// loadWindow measures, over one timed step, how much CPU processes other
// than the bench, the host and the plugin used: on a shared machine that
// load slows one side of a ratio and not the other. Kernel threads
// (writeback, network softirqs) work for whoever does I/O and are left out.
type loadWindow struct {
	name  string
	start time.Time
	busy  float64 // machine busy CPU seconds at the start
	own   float64 // our processes' CPU seconds at the start
	read  int64   // bytes our processes had read from storage at the start
	disks map[string]diskStat
}

// startLoad opens a window named name.
func (b *bench) startLoad(name string) loadWindow {
	return loadWindow{name: name, start: time.Now(), busy: machineBusy(), own: b.ownCPU() + kernelThreadsCPU(), read: b.ownDiskReads(), disks: diskStats()}
}

// stopLoad closes the window and records the share others used, and the
// step as disturbed when it was over 5% of the machine.
func (b *bench) stopLoad(w loadWindow) {
	wall := time.Since(w.start).Seconds()
	if wall < 0.5 {
		// A few clock ticks: no share can be told.
		b.loads = append(b.loads, w.name+" (too short to tell)")
		return
	}
	other := (machineBusy() - w.busy) - (b.ownCPU() + kernelThreadsCPU() - w.own)
	share := max(other, 0) / (wall * float64(runtime.NumCPU()))
	b.loads = append(b.loads, fmt.Sprintf("%s %.0f%% (%s read from disk%s)", w.name, 100*share, formatSize(b.ownDiskReads()-w.read), busiestDisk(w.disks, diskStats(), wall)))
	if share > 0.05 {
		b.disturbed = append(b.disturbed, w.name)
	}
}

// ownCPU is the CPU seconds used so far by the bench, the host (with its
// ended helper children), the current plugin and PocketBase.
func (b *bench) ownCPU() float64 {
	s := cpuSeconds(os.Getpid())
	if b.rss != nil {
		s += cpuSeconds(b.rss.hostPID) + reapedChildrenCPU(b.rss.hostPID)
		b.rss.mu.Lock()
		plugin := b.rss.pluginPID
		b.rss.mu.Unlock()
		if plugin != 0 {
			s += cpuSeconds(plugin)
		}
	}
	if b.pb != nil {
		s += cpuSeconds(b.pb.pid())
	}
	return s
}

// ownDiskReads is the bytes the bench, the host, the current plugin and PocketBase
// have read from storage (not from the page cache), from /proc/PID/io.
func (b *bench) ownDiskReads() int64 {
	n := diskReads(os.Getpid())
	if b.rss != nil {
		n += diskReads(b.rss.hostPID)
		b.rss.mu.Lock()
		plugin := b.rss.pluginPID
		b.rss.mu.Unlock()
		if plugin != 0 {
			n += diskReads(plugin)
		}
	}
	if b.pb != nil {
		n += diskReads(b.pb.pid())
	}
	return n
}

func diskReads(pid int) int64 {
	v := procField("/proc/"+strconv.Itoa(pid)+"/io", "read_bytes")
	n, _ := strconv.ParseInt(v, 10, 64)
	return n
}

// machineBusy is the busy CPU seconds of the whole machine from /proc/stat:
// user, nice, system and steal (time the hypervisor gave to other guests);
// not irq and softirq, which the kernel accounts to no process.
func machineBusy() float64 {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(data), "\n")
	fields := strings.Fields(line)
	if len(fields) < 9 || fields[0] != "cpu" {
		return 0
	}
	var ticks int64
	for _, i := range []int{1, 2, 3, 8} {
		v, _ := strconv.ParseInt(fields[i], 10, 64)
		ticks += v
	}
	return float64(ticks) / clockTicks
}

// kernelThreadsCPU is the CPU seconds of the kernel's threads (kthreadd,
// PID 2, and its children).
func kernelThreadsCPU() float64 {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	var s float64
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		fields, ok := statFields(pid)
		if !ok || len(fields) < 13 {
			continue
		}
		if pid == 2 || fields[1] == "2" {
			ut, _ := strconv.ParseInt(fields[11], 10, 64)
			st, _ := strconv.ParseInt(fields[12], 10, 64)
			s += float64(ut+st) / clockTicks
		}
	}
	return s
}

// loadAverage is the first field of /proc/loadavg.
func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Fields(string(data))[0]
}

// diskStat is one whole disk's counters from /proc/diskstats.
type diskStat struct {
	sectorsWritten int64 // 512-byte sectors
	busyMillis     int64 // time with I/O in flight (io_ticks)
}

// diskStats reads the counters of every whole disk (a name under
// /sys/block, not a partition) that has done any I/O.
func diskStats() map[string]diskStat {
	data, err := os.ReadFile("/proc/diskstats")
	if err != nil {
		return nil
	}
	out := map[string]diskStat{}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 13 {
			continue
		}
		if _, err := os.Stat("/sys/block/" + f[2]); err != nil {
			continue
		}
		written, _ := strconv.ParseInt(f[9], 10, 64)
		busy, _ := strconv.ParseInt(f[12], 10, 64)
		if busy > 0 {
			out[f[2]] = diskStat{sectorsWritten: written, busyMillis: busy}
		}
	}
	return out
}

// busiestDisk describes the disk busiest between two readings over wall
// seconds: its share of time with I/O in flight and its write rate. A disk
// near 100% busy, not the CPUs, bounds the step.
func busiestDisk(before, after map[string]diskStat, wall float64) string {
	name, busy := "", int64(-1)
	for n, a := range after {
		if d := a.busyMillis - before[n].busyMillis; d > busy {
			name, busy = n, d
		}
	}
	if name == "" || wall <= 0 {
		return ""
	}
	written := (after[name].sectorsWritten - before[name].sectorsWritten) * 512
	return fmt.Sprintf("; disk %s %.0f%% busy, writing %.0f MB/s", name, 100*float64(busy)/1000/wall, float64(written)/1e6/wall)
}
