package process

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// procStat is what the driver needs from /proc/<pid>/stat.
type procStat struct {
	State      byte   // R, S, D, Z, ...
	PPID       int    // parent
	PGRP       int    // process group
	StartTicks uint64 // start time in clock ticks after boot
}

// live reports whether the process is running, as opposed to a zombie
// waiting to be reaped or dead.
func (s procStat) live() bool {
	return s.State != 'Z' && s.State != 'X' && s.State != 'x'
}

// parseStat parses the contents of /proc/<pid>/stat. The command name, in
// parentheses, may contain spaces and parentheses, so fields are counted
// from the last ')'.
func parseStat(b []byte) (procStat, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}, errors.New("parse /proc stat: no ')'")
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 of proc(5) (state), so field n is f[n-3].
	if len(f) < 20 || len(f[0]) != 1 {
		return procStat{}, errors.New("parse /proc stat: too few fields")
	}
	ppid, err1 := strconv.Atoi(f[1])
	pgrp, err2 := strconv.Atoi(f[2])
	start, err3 := strconv.ParseUint(f[19], 10, 64)
	if err := errors.Join(err1, err2, err3); err != nil {
		return procStat{}, fmt.Errorf("parse /proc stat: %w", err)
	}
	return procStat{State: f[0][0], PPID: ppid, PGRP: pgrp, StartTicks: start}, nil
}

func readStat(pid int) (procStat, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, err
	}
	return parseStat(b)
}

// sameProcess reports whether pid is a live (not zombie) process that
// started at startTicks, that is, not a later process that reused the pid.
func sameProcess(pid int, startTicks uint64) bool {
	if pid <= 0 {
		return false
	}
	st, err := readStat(pid)
	return err == nil && st.live() && st.StartTicks == startTicks
}

// isShim reports whether pid is the live shim of the instance in dir: the
// same process that recorded startTicks, running with dir as its last
// argument. Both checks guard against pid reuse.
func isShim(pid int, startTicks uint64, dir string) bool {
	return sameProcess(pid, startTicks) && isShimCmd(pid, dir)
}

// isShimCmd reports whether pid runs with dir as its last argument, as the
// shim of the instance in dir does.
func isShimCmd(pid int, dir string) bool {
	if pid <= 0 {
		return false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		return false
	}
	args := strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00")
	return args[len(args)-1] == dir
}

// groupMembers returns the live processes of process group pgid.
func groupMembers(pgid int) []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, err := readStat(pid); err == nil && st.PGRP == pgid && st.live() {
			pids = append(pids, pid)
		}
	}
	return pids
}

// killOrphans SIGKILLs what is left of an instance's process group pgid
// after its shim died. The group is only killed if it is provably the
// instance's: its leader is the process that started at leaderTicks, or a
// member works inside appDir. A pid, and so a group id, can be reused once
// the whole group is gone.
func killOrphans(pgid int, leaderTicks uint64, appDir string) bool {
	if pgid <= 1 {
		return false
	}
	members := groupMembers(pgid)
	if len(members) == 0 {
		return false
	}
	ours := sameProcess(pgid, leaderTicks)
	for _, pid := range members {
		if ours {
			break
		}
		cwd, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/cwd")
		ours = err == nil && (cwd == appDir || strings.HasPrefix(cwd, appDir+string(filepath.Separator)))
	}
	if !ours {
		return false
	}
	return syscall.Kill(-pgid, syscall.SIGKILL) == nil
}
