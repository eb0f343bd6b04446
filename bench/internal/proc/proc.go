// Package proc starts, pins, watches and stops the child processes of a
// benchmark, and reads what it needs about processes from /proc (Linux).
package proc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Group starts the child processes of a benchmark and is the one place
// that stops them: each runs in its own process group, gets SIGKILL if the
// benchmark dies (Pdeathsig), and StopAll ends whatever is left.
type Group struct {
	Dir    string // logs go to Dir/<name>.log
	Pin    *Pinning
	mu     sync.Mutex
	cmds   []*exec.Cmd
	extras []func() // run after the children stopped: for processes they started (the slipway server's proxy and shims)
}

// Pinning says which CPUs the servers and the load generator run on;
// zero value: no pinning.
type Pinning struct {
	Taskset string // path of taskset, empty if not pinning
	Serve   string // CPU list for backends and proxies, e.g. "0"
	Load    string // CPU list of the load generator, e.g. "1"
	All     string // every CPU, for builds and CLI commands
}

// Wrap prefixes argv with taskset -c cpus when pinning.
func (p *Pinning) Wrap(cpus string, argv []string) []string {
	if p == nil || p.Taskset == "" || cpus == "" {
		return argv
	}
	return append([]string{p.Taskset, "-c", cpus}, argv...)
}

// Child describes one process to start.
type Child struct {
	Name string   // for logs and messages
	Argv []string // program and arguments
	Env  []string // added to the benchmark's environment
	Dir  string   // working directory
	CPUs string   // CPU list to pin to, "" for none
	UID  int      // run as this uid/gid when > 0 (and the benchmark is root)
}

// Start starts c with its output in a log file and returns the command;
// its Process.Pid is c's program (taskset execs it).
func (p *Group) Start(c Child) (*exec.Cmd, error) {
	argv := p.Pin.Wrap(c.CPUs, c.Argv)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), c.Env...)
	cmd.Dir = c.Dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if c.UID > 0 && os.Geteuid() == 0 {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uint32(c.UID), Gid: uint32(c.UID)}
	}
	logf, err := os.OpenFile(filepath.Join(p.Dir, c.Name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", c.Name, err)
	}
	p.mu.Lock()
	p.cmds = append(p.cmds, cmd)
	p.mu.Unlock()
	return cmd, nil
}

// LogTail returns the last lines of a child's log, for error messages.
func (p *Group) LogTail(name string, lines int) string {
	raw, _ := os.ReadFile(filepath.Join(p.Dir, name+".log"))
	ls := strings.Split(strings.TrimSpace(string(raw)), "\n")
	if len(ls) > lines {
		ls = ls[len(ls)-lines:]
	}
	return strings.Join(ls, "\n")
}

// Stop ends cmd's process group: SIGTERM, then SIGKILL after grace.
func (p *Group) Stop(cmd *exec.Cmd, grace time.Duration) {
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

// OnStopAll registers a cleanup StopAll runs after stopping the children.
func (p *Group) OnStopAll(f func()) {
	p.mu.Lock()
	p.extras = append(p.extras, f)
	p.mu.Unlock()
}

// StopAll stops every process still running.
func (p *Group) StopAll() {
	p.mu.Lock()
	extras, cmds := p.extras, append([]*exec.Cmd(nil), p.cmds...)
	p.extras = nil
	p.mu.Unlock()
	var wg sync.WaitGroup
	for _, c := range cmds {
		wg.Go(func() { p.Stop(c, 3*time.Second) })
	}
	wg.Wait()
	for i := len(extras) - 1; i >= 0; i-- {
		extras[i]()
	}
}

// FreePort returns a loopback address with a port free right now.
func FreePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// WaitListening waits until addr accepts TCP connections or cmd exits.
func WaitListening(ctx context.Context, addr string, cmd *exec.Cmd, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			_ = c.Close()
			return nil
		}
		if cmd != nil && !Alive(cmd.Process.Pid) {
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

// Alive reports whether pid runs and is not a zombie.
func Alive(pid int) bool {
	st, err := ReadStat(pid)
	return err == nil && st.State != 'Z'
}

// Stat is what a benchmark reads from /proc/<pid>/stat.
type Stat struct {
	State byte
	PPid  int
	CPU   time.Duration // utime + stime
}

// ReadStat parses /proc/<pid>/stat (fields 3, 4, 14 and 15; clock ticks
// are USER_HZ, 1/100 s on Linux).
func ReadStat(pid int) (Stat, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return Stat{}, err
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return Stat{}, errors.New("malformed stat")
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return Stat{}, errors.New("malformed stat")
	}
	ppid, _ := strconv.Atoi(f[1])
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return Stat{State: f[0][0], PPid: ppid, CPU: time.Duration(ut+st) * 10 * time.Millisecond}, nil
}

// Tree returns pid and all its live descendants.
func Tree(pid int) []int {
	ents, _ := os.ReadDir("/proc")
	children := map[int][]int{}
	for _, e := range ents {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, err := ReadStat(n); err == nil {
			children[st.PPid] = append(children[st.PPid], n)
		}
	}
	out := []int{pid}
	for i := 0; i < len(out); i++ {
		out = append(out, children[out[i]]...)
	}
	return out
}

// TreeCPU is the CPU time used so far by pid and its live descendants.
func TreeCPU(pid int) time.Duration {
	var sum time.Duration
	for _, p := range Tree(pid) {
		if st, err := ReadStat(p); err == nil {
			sum += st.CPU
		}
	}
	return sum
}

// Memory is a snapshot of a process tree's footprint.
type Memory struct {
	RSSKiB  int // VmRSS summed over the tree
	FDs     int // open file descriptors, summed
	Threads int
	Procs   int
}

// TreeMemory sums the footprint of pid and its live descendants.
func TreeMemory(pid int) Memory {
	var m Memory
	for _, p := range Tree(pid) {
		raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p))
		if err != nil {
			continue
		}
		m.Procs++
		for line := range strings.SplitSeq(string(raw), "\n") {
			k, v, ok := strings.Cut(line, ":")
			if !ok {
				continue
			}
			n, _ := strconv.Atoi(strings.Fields(v + " 0")[0])
			switch k {
			case "VmRSS":
				m.RSSKiB += n
			case "Threads":
				m.Threads += n
			}
		}
		if fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", p)); err == nil {
			m.FDs += len(fds)
		}
	}
	return m
}

// UpstreamConns counts the established TCP connections of process pid
// and its descendants whose remote end is one of ports: the proxy's
// connections to those backends. Sockets are matched to processes by
// inode (/proc/<pid>/fd and /proc/net/tcp).
func UpstreamConns(pid int, ports map[int]bool) int {
	inodes := map[string]bool{}
	for _, p := range Tree(pid) {
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

// PortOf returns the port of a host:port address.
func PortOf(addr string) int {
	_, p, _ := net.SplitHostPort(addr)
	n, _ := strconv.Atoi(p)
	return n
}

// KillByPath kills every process whose command line or working directory
// mentions dir, and its process group: the slipway server's proxy and
// instance shims run detached from the benchmark, in their own sessions.
func KillByPath(dir string) {
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

// WaitHTTP waits until url answers 200.
func WaitHTTP(ctx context.Context, url string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		res, err := http.Get(url)
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not answer 200 within %s", url, timeout)
		}
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// ReadPid reads a pid file; 0 if there is none.
func ReadPid(path string) int {
	raw, _ := os.ReadFile(path)
	pid, _ := strconv.Atoi(strings.TrimSpace(string(raw)))
	return pid
}

// SelfCPU is the CPU time this process used so far.
func SelfCPU() time.Duration {
	st, _ := ReadStat(os.Getpid())
	return st.CPU
}

// Listeners returns the processes holding a listening TCP socket on port
// (any local address): normally one; more when the socket is shared
// (SO_REUSEPORT, or inherited by a child).
func Listeners(port int) []int {
	inodes := map[string]bool{}
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		raw, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for line := range strings.SplitSeq(string(raw), "\n") {
			fs := strings.Fields(line)
			if len(fs) < 10 || fs[3] != "0A" { // 0A = LISTEN
				continue
			}
			_, p, ok := strings.Cut(fs[1], ":")
			if n, err := strconv.ParseInt(p, 16, 32); ok && err == nil && int(n) == port {
				inodes[fs[9]] = true
			}
		}
	}
	if len(inodes) == 0 {
		return nil
	}
	var pids []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
		for _, fd := range fds {
			l, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
			if ino, ok := strings.CutPrefix(l, "socket:["); err == nil && ok && inodes[strings.TrimSuffix(ino, "]")] {
				pids = append(pids, pid)
				break
			}
		}
	}
	return pids
}
