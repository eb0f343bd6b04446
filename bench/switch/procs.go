package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// procs starts the child processes of the benchmark and is the one place
// that stops them: each runs in its own process group, gets SIGKILL if the
// benchmark dies (Pdeathsig), and stopAll ends whatever is left.
type procs struct {
	dir    string // logs go to dir/<name>.log
	pin    *pinning
	mu     sync.Mutex
	cmds   []*exec.Cmd
	extras []func() // run after the children stopped: for processes they started (the slipway server's proxy and shims)
}

// pinning says which CPUs the servers and the load generator run on;
// zero value: no pinning.
type pinning struct {
	taskset string // path of taskset, empty if not pinning
	serve   string // CPU list for backends and proxies, e.g. "0"
	load    string // CPU list of the load generator, e.g. "1"
	all     string // every CPU, for builds and CLI commands
}

// wrap prefixes argv with taskset -c cpus when pinning.
func (p *pinning) wrap(cpus string, argv []string) []string {
	if p == nil || p.taskset == "" || cpus == "" {
		return argv
	}
	return append([]string{p.taskset, "-c", cpus}, argv...)
}

// child describes one process to start.
type child struct {
	name string   // for logs and messages
	argv []string // program and arguments
	env  []string // added to the benchmark's environment
	dir  string   // working directory
	cpus string   // CPU list to pin to, "" for none
	uid  int      // run as this uid/gid when > 0 (and the benchmark is root)
}

// start starts c with its output in a log file and returns the command;
// its Process.Pid is c's program (taskset execs it).
func (p *procs) start(c child) (*exec.Cmd, error) {
	argv := p.pin.wrap(c.cpus, c.argv)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), c.env...)
	cmd.Dir = c.dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if c.uid > 0 && os.Geteuid() == 0 {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uint32(c.uid), Gid: uint32(c.uid)}
	}
	logf, err := os.OpenFile(filepath.Join(p.dir, c.name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", c.name, err)
	}
	p.mu.Lock()
	p.cmds = append(p.cmds, cmd)
	p.mu.Unlock()
	return cmd, nil
}

// logTail returns the last lines of a child's log, for error messages.
func (p *procs) logTail(name string, lines int) string {
	raw, _ := os.ReadFile(filepath.Join(p.dir, name+".log"))
	ls := strings.Split(strings.TrimSpace(string(raw)), "\n")
	if len(ls) > lines {
		ls = ls[len(ls)-lines:]
	}
	return strings.Join(ls, "\n")
}

// stop ends cmd's process group: SIGTERM, then SIGKILL after grace.
func (p *procs) stop(cmd *exec.Cmd, grace time.Duration) {
	if cmd == nil || cmd.Process == nil {
		return
	}
	p.mu.Lock()
	for i, c := range p.cmds {
		if c == cmd {
			p.cmds = append(p.cmds[:i], p.cmds[i+1:]...)
			break
		}
	}
	p.mu.Unlock()
	pid := cmd.Process.Pid
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(grace):
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		<-done
	}
	// Children that left the group (none of ours do) are not followed.
	_ = syscall.Kill(-pid, syscall.SIGKILL)
}

// onStopAll registers a cleanup stopAll runs after stopping the children.
func (p *procs) onStopAll(f func()) {
	p.mu.Lock()
	p.extras = append(p.extras, f)
	p.mu.Unlock()
}

// stopAll stops every process still running.
func (p *procs) stopAll() {
	p.mu.Lock()
	extras, cmds := p.extras, append([]*exec.Cmd(nil), p.cmds...)
	p.extras = nil
	p.mu.Unlock()
	var wg sync.WaitGroup
	for _, c := range cmds {
		wg.Go(func() { p.stop(c, 3*time.Second) })
	}
	wg.Wait()
	for i := len(extras) - 1; i >= 0; i-- {
		extras[i]()
	}
}

// freePort returns a loopback address with a port free right now.
func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// waitListening waits until addr accepts TCP connections or cmd exits.
func waitListening(ctx context.Context, addr string, cmd *exec.Cmd, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			_ = c.Close()
			return nil
		}
		if cmd != nil && !alive(cmd.Process.Pid) {
			return fmt.Errorf("process %d exited before listening on %s", cmd.Process.Pid, addr)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("nothing listens on %s after %s", addr, timeout)
		}
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// alive reports whether pid runs and is not a zombie.
func alive(pid int) bool {
	st, err := readStat(pid)
	return err == nil && st.state != 'Z'
}

// procStat is what the benchmark reads from /proc/<pid>/stat.
type procStat struct {
	state byte
	ppid  int
	cpu   time.Duration // utime + stime
}

// readStat parses /proc/<pid>/stat (fields 3, 4, 14 and 15; clock ticks
// are USER_HZ, 1/100 s on Linux).
func readStat(pid int) (procStat, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, err
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return procStat{}, errors.New("malformed stat")
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return procStat{}, errors.New("malformed stat")
	}
	ppid, _ := strconv.Atoi(f[1])
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return procStat{state: f[0][0], ppid: ppid, cpu: time.Duration(ut+st) * 10 * time.Millisecond}, nil
}

// tree returns pid and all its live descendants.
func tree(pid int) []int {
	ents, _ := os.ReadDir("/proc")
	children := map[int][]int{}
	for _, e := range ents {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, err := readStat(n); err == nil {
			children[st.ppid] = append(children[st.ppid], n)
		}
	}
	out := []int{pid}
	for i := 0; i < len(out); i++ {
		out = append(out, children[out[i]]...)
	}
	return out
}

// treeCPU is the CPU time used so far by pid and its live descendants.
func treeCPU(pid int) time.Duration {
	var sum time.Duration
	for _, p := range tree(pid) {
		if st, err := readStat(p); err == nil {
			sum += st.cpu
		}
	}
	return sum
}

// memory is a snapshot of a process tree's footprint.
type memory struct {
	rssKiB  int // VmRSS summed over the tree
	fds     int // open file descriptors, summed
	threads int
	procs   int
}

func treeMemory(pid int) memory {
	var m memory
	for _, p := range tree(pid) {
		raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p))
		if err != nil {
			continue
		}
		m.procs++
		for line := range strings.SplitSeq(string(raw), "\n") {
			k, v, ok := strings.Cut(line, ":")
			if !ok {
				continue
			}
			n, _ := strconv.Atoi(strings.Fields(v + " 0")[0])
			switch k {
			case "VmRSS":
				m.rssKiB += n
			case "Threads":
				m.threads += n
			}
		}
		if fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", p)); err == nil {
			m.fds += len(fds)
		}
	}
	return m
}

// upstreamConns counts the established TCP connections of process pid
// and its descendants whose remote end is one of ports: the proxy's
// connections to those backends. Sockets are matched to processes by
// inode (/proc/<pid>/fd and /proc/net/tcp).
func upstreamConns(pid int, ports map[int]bool) int {
	inodes := map[string]bool{}
	for _, p := range tree(pid) {
		fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", p))
		for _, fd := range fds {
			l, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", p, fd.Name()))
			if ino, ok := strings.CutPrefix(l, "socket:["); err == nil && ok {
				inodes[strings.TrimSuffix(ino, "]")] = true
			}
		}
	}
	n := 0
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		raw, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for line := range strings.SplitSeq(string(raw), "\n") {
			fs := strings.Fields(line)
			if len(fs) < 10 || fs[3] != "01" || !inodes[fs[9]] { // 01 = ESTABLISHED
				continue
			}
			_, port, ok := strings.Cut(fs[2], ":")
			if !ok {
				continue
			}
			p, err := strconv.ParseInt(port, 16, 32)
			if err == nil && ports[int(p)] {
				n++
			}
		}
	}
	return n
}

// portOf returns the port of a host:port address.
func portOf(addr string) int {
	_, p, _ := net.SplitHostPort(addr)
	n, _ := strconv.Atoi(p)
	return n
}

// killByPath kills every process whose command line or working directory
// mentions dir, and its process group: the slipway server's proxy and
// instance shims run detached from the benchmark, in their own sessions.
func killByPath(dir string) {
	ents, _ := os.ReadDir("/proc")
	self := os.Getpid()
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid <= 1 || pid == self {
			continue
		}
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		cwd, _ := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid))
		if strings.Contains(string(cmdline), dir) || strings.HasPrefix(cwd, dir) {
			if pgid, err := syscall.Getpgid(pid); err == nil && pgid == pid {
				_ = syscall.Kill(-pid, syscall.SIGKILL)
			}
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}
