package main

import (
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// cpuShare is where CPU time went during a measurement, per request: the
// server, this load generator, and PostgreSQL (its postmaster and every
// backend; zero when the server is not one the benchmark started).
type cpuShare struct {
	server, loadgen, postgres time.Duration
}

// cpuSample is a reading of the three CPU clocks.
type cpuSample struct {
	server, self, postgres time.Duration
}

// clockTick is USER_HZ, the unit of /proc's CPU times: 100 on Linux.
const clockTick = 10 * time.Millisecond

func sampleCPU(serverPid, postmaster int) cpuSample {
	var s cpuSample
	if f := procStat(serverPid); len(f) > 12 {
		s.server = ticks(f[11]) + ticks(f[12])
	}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		s.self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	if postmaster > 0 {
		s.postgres = processTreeCPU(postmaster)
	}
	return s
}

// procStat returns the fields of /proc/PID/stat after the command name
// (which is in parentheses and may hold spaces): f[0] is the state, f[1]
// the parent's pid, f[11] and f[12] user and system time, f[13] and f[14]
// those of reaped children.
func procStat(pid int) []string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return nil
	}
	return strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
}

func ticks(s string) time.Duration {
	n, _ := strconv.ParseInt(s, 10, 64)
	return time.Duration(n) * clockTick
}

// processTreeCPU returns the CPU time of the postmaster, of the backends it
// has reaped (pgbench's, when they end) and of its live children.
func processTreeCPU(postmaster int) time.Duration {
	f := procStat(postmaster)
	if len(f) < 15 {
		return 0
	}
	total := ticks(f[11]) + ticks(f[12]) + ticks(f[13]) + ticks(f[14])
	entries, _ := os.ReadDir("/proc")
	parent := strconv.Itoa(postmaster)
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if c := procStat(pid); len(c) > 12 && c[1] == parent {
			total += ticks(c[11]) + ticks(c[12])
		}
	}
	return total
}

// per returns the CPU used between a and b, per request.
func per(a, b cpuSample, requests float64) cpuShare {
	if requests <= 0 {
		return cpuShare{}
	}
	d := func(x time.Duration) time.Duration { return time.Duration(float64(max(x, 0)) / requests) }
	return cpuShare{server: d(b.server - a.server), loadgen: d(b.self - a.self), postgres: d(b.postgres - a.postgres)}
}
