package bench

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat: 100 on every Linux
// architecture Go supports (sysconf(_SC_CLK_TCK) is not reachable without cgo).
const clockTicks = 100

// procSample is one reading of a process's /proc files.
type procSample struct {
	cpu time.Duration // user + system time since the process started
	rss int64         // VmRSS, bytes
	hwm int64         // VmHWM (peak RSS since start or the last resetPeak), bytes
}

// readProc reads the CPU time and memory of pid from /proc.
func readProc(pid int) (procSample, error) {
	var s procSample
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return s, err
	}
	// Fields after the command name (which may hold spaces) start at field 3; utime and stime
	// are fields 14 and 15 (proc(5)).
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return s, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	f := bytes.Fields(stat[i+1:])
	if len(f) < 13 {
		return s, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	utime, err1 := strconv.ParseInt(string(f[11]), 10, 64)
	stime, err2 := strconv.ParseInt(string(f[12]), 10, 64)
	if err1 != nil || err2 != nil {
		return s, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	s.cpu = time.Duration(utime+stime) * time.Second / clockTicks
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s, err
	}
	for line := range bytes.SplitSeq(status, []byte("\n")) {
		key, val, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		switch string(key) {
		case "VmRSS":
			s.rss = parseKB(val)
		case "VmHWM":
			s.hwm = parseKB(val)
		}
	}
	return s, nil
}

func parseKB(v []byte) int64 {
	f := bytes.Fields(v)
	if len(f) == 0 {
		return 0
	}
	n, _ := strconv.ParseInt(string(f[0]), 10, 64)
	return n << 10
}

// resetPeak resets VmHWM of pid to its current RSS (proc(5), clear_refs "5"), so a step's peak
// is its own. It fails without the right to write the file; the sampled maximum then serves.
func resetPeak(pid int) error {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
}

// selfCPU is this process's user + system time (the generator, the receiver and, in-process,
// the baseline server or the bridge).
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// processesCPU sums the CPU time of every process whose command name is comm (e.g. the
// "postgres" server processes), from /proc/<pid>/stat. Processes that exited meanwhile are
// missed, so it is a lower bound.
func processesCPU(comm string) time.Duration {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	var total time.Duration
	want := []byte("(" + comm + ")")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil || !bytes.Contains(stat, want) {
			continue
		}
		if s, err := readProc(pid); err == nil {
			total += s.cpu
		}
	}
	return total
}

// machineCPU is the CPU time processes used on the whole machine (every core) from
// /proc/stat: user, nice and system. Interrupt and softirq time (loopback networking, disk
// completions, partly the bench's own) and steal are left out.
func machineCPU() time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := bytes.Fields(line)
	if len(f) < 9 || string(f[0]) != "cpu" {
		return 0
	}
	var busy int64
	for _, i := range []int{1, 2, 3} { // user nice system
		n, _ := strconv.ParseInt(string(f[i]), 10, 64)
		busy += n
	}
	return time.Duration(busy) * time.Second / clockTicks
}

// RSSSample is the bridge's resident memory at one time of the run.
type RSSSample struct {
	AtSeconds float64 `json:"at_s"`
	RSSMB     float64 `json:"rss_mb"`
}

// rssMonitor samples the RSS of a process at a fixed interval for the whole run.
type rssMonitor struct {
	mu      sync.Mutex
	start   time.Time
	samples []RSSSample
	peak    int64
	stop    chan struct{}
	done    chan struct{}
}

func startRSSMonitor(pid int, every time.Duration) *rssMonitor {
	m := &rssMonitor{start: time.Now(), stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(m.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			if s, err := readProc(pid); err == nil {
				m.mu.Lock()
				m.samples = append(m.samples, RSSSample{AtSeconds: time.Since(m.start).Seconds(), RSSMB: mb(s.rss)})
				m.peak = max(m.peak, s.rss, s.hwm)
				m.mu.Unlock()
			}
			select {
			case <-m.stop:
				return
			case <-t.C:
			}
		}
	}()
	return m
}

// since returns the samples taken at or after t, and the largest of them in bytes.
func (m *rssMonitor) since(t time.Time) ([]RSSSample, int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	from := t.Sub(m.start).Seconds()
	var out []RSSSample
	var peak float64
	for _, s := range m.samples {
		if s.AtSeconds >= from {
			out = append(out, s)
			peak = max(peak, s.RSSMB)
		}
	}
	return out, int64(peak * (1 << 20))
}

func (m *rssMonitor) close() {
	close(m.stop)
	<-m.done
}

func mb(b int64) float64 { return float64(b) / (1 << 20) }
