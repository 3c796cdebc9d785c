package rest_test

import (
	"context"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// cpuMeter measures CPU time spent during a phase of a benchmark: this
// process's (server and load generator alike, both in it) and PostgreSQL's
// (the postmaster and every backend, live or reaped). CPU per operation is
// far less sensitive to other load on a shared machine than a rate.
type cpuMeter struct {
	postmaster int // 0 when PostgreSQL's processes cannot be found
}

// cpuSample is CPU time used so far.
type cpuSample struct{ self, pg time.Duration }

// newCPUMeter finds the PostgreSQL server of e through one backend's parent.
func newCPUMeter(e *env) cpuMeter {
	var backend int
	if err := e.store.Pool().QueryRow(context.Background(), `SELECT pg_backend_pid()`).Scan(&backend); err != nil {
		return cpuMeter{}
	}
	f, ok := procStat(backend)
	if !ok {
		return cpuMeter{}
	}
	ppid, _ := strconv.Atoi(f[1])
	return cpuMeter{postmaster: ppid}
}

func (m cpuMeter) sample() cpuSample {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	s := cpuSample{self: time.Duration(ru.Utime.Nano() + ru.Stime.Nano())}
	if m.postmaster == 0 {
		return s
	}
	// The postmaster's own time and its reaped children's, then every live
	// child's.
	if f, ok := procStat(m.postmaster); ok {
		s.pg += ticks(f[11]) + ticks(f[12]) + ticks(f[13]) + ticks(f[14])
	}
	dirs, _ := os.ReadDir("/proc")
	parent := strconv.Itoa(m.postmaster)
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil || pid == m.postmaster {
			continue
		}
		if f, ok := procStat(pid); ok && f[1] == parent {
			s.pg += ticks(f[11]) + ticks(f[12])
		}
	}
	return s
}

// procStat returns the fields of /proc/pid/stat after the command name:
// f[0] is the state, f[1] the parent pid, f[11]..f[14] utime, stime, cutime,
// cstime in clock ticks.
func procStat(pid int) ([]string, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return nil, false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return nil, false
	}
	f := strings.Fields(s[i+1:])
	return f, len(f) > 14
}

// ticks converts clock ticks (USER_HZ, 100 on Linux) to a duration.
func ticks(s string) time.Duration {
	n, _ := strconv.ParseInt(s, 10, 64)
	return time.Duration(n) * 10 * time.Millisecond
}

// add returns s plus the CPU used from a to b.
func (s cpuSample) add(a, b cpuSample) cpuSample {
	return cpuSample{self: s.self + b.self - a.self, pg: s.pg + b.pg - a.pg}
}

// perOp is the CPU per operation between two samples.
func perOp(a, b cpuSample, ops int64) (self, pg time.Duration) {
	if ops == 0 {
		return 0, 0
	}
	return (b.self - a.self) / time.Duration(ops), (b.pg - a.pg) / time.Duration(ops)
}

// phaseProfile writes a CPU profile of one phase of a benchmark to
// $ACCORD_BENCH_PROFILE_DIR/name.prof when that variable is set (a profile
// of the whole run mixes the phases); it returns the function that stops it.
func phaseProfile(b *testing.B, name string) func() {
	dir := os.Getenv("ACCORD_BENCH_PROFILE_DIR")
	if dir == "" {
		return func() {}
	}
	f, err := os.Create(filepath.Join(dir, name+".prof"))
	if err != nil {
		b.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		b.Fatal(err)
	}
	return func() {
		pprof.StopCPUProfile()
		_ = f.Close()
	}
}
