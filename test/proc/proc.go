// Package proc runs the server processes of the end-to-end tests and of the
// load harness (a hub, or the harness's bare Echo ceiling): a binary whose
// stderr lines are kept and watched, ready to use once it has logged the
// address it listens on.
package proc

import (
	"bufio"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"time"
)

// Process is a running server process.
type Process struct {
	// Name names the process in errors ("hub", "ceiling").
	Name string
	// Addr is the host:port of the process's "listening … addr=" line, and
	// Base is http://Addr.
	Addr, Base string
	// AdminBase is http:// and the "admin=" address of that line (a hub's
	// /metrics), empty when it names none.
	AdminBase string
	// Started is when the process was started.
	Started time.Time

	cmd  *exec.Cmd
	done chan struct{}

	mu    sync.Mutex
	lines []string
	added *sync.Cond
}

// listening matches the line a server logs once it listens: the hub's
// "liaison hub listening" (text or JSON) and the ceiling's.
var listening = regexp.MustCompile(`listening"? addr=(\S+).*`)

// adminAddr finds the admin address in the listening line.
var adminAddr = regexp.MustCompile(` admin=(\S+)`)

// startTimeout bounds the wait for the listening line.
const startTimeout = 2 * time.Minute

// stopGrace is how long Stop waits after SIGINT before SIGKILL.
const stopGrace = 20 * time.Second

// Start runs bin with args and returns once it has logged its listening
// address; when it exits or stays silent for two minutes first, it is killed
// and the error quotes its last lines.
func Start(name, bin string, args ...string) (*Process, error) {
	p := &Process{Name: name, cmd: exec.Command(bin, args...), done: make(chan struct{})}
	p.added = sync.NewCond(&p.mu)
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	p.Started = time.Now()
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			p.mu.Lock()
			p.lines = append(p.lines, sc.Text())
			p.added.Broadcast()
			p.mu.Unlock()
		}
		p.cmd.Wait()
		close(p.done)
		p.mu.Lock()
		p.added.Broadcast()
		p.mu.Unlock()
	}()
	m, err := p.WaitLine(listening, startTimeout)
	if err != nil {
		p.Kill()
		return nil, err
	}
	p.Addr, p.Base = m[1], "http://"+m[1]
	if a := adminAddr.FindStringSubmatch(m[0]); a != nil && a[1] != "" {
		p.AdminBase = "http://" + a[1]
	}
	return p, nil
}

// WaitLine waits for a stderr line matching re, from the first line on, and
// returns its submatches.
func (p *Process) WaitLine(re *regexp.Regexp, timeout time.Duration) ([]string, error) {
	timer := time.AfterFunc(timeout, func() {
		p.mu.Lock()
		p.added.Broadcast()
		p.mu.Unlock()
	})
	defer timer.Stop()
	deadline := time.Now().Add(timeout)
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := 0; ; {
		for ; i < len(p.lines); i++ {
			if m := re.FindStringSubmatch(p.lines[i]); m != nil {
				return m, nil
			}
		}
		select {
		case <-p.done:
			return nil, fmt.Errorf("%s exited:\n%s", p.Name, p.tailLocked(20))
		default:
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%s: no line matching %q after %v:\n%s", p.Name, re, timeout, p.tailLocked(20))
		}
		p.added.Wait()
	}
}

// Output returns every stderr line so far, each ended by a newline.
func (p *Process) Output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.lines) == 0 {
		return ""
	}
	return strings.Join(p.lines, "\n") + "\n"
}

// Exited reports whether the process has exited.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Tail returns the last n stderr lines.
func (p *Process) Tail(n int) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.tailLocked(n)
}

func (p *Process) tailLocked(n int) string {
	return strings.Join(p.lines[max(0, len(p.lines)-n):], "\n")
}

// WaitReady polls /readyz until it answers 200 and returns the time since the
// process started.
func (p *Process) WaitReady(timeout time.Duration) (time.Duration, error) {
	deadline := time.Now().Add(timeout)
	cl := &http.Client{Timeout: 2 * time.Second}
	for time.Now().Before(deadline) {
		resp, err := cl.Get(p.Base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return time.Since(p.Started), nil
			}
		}
		select {
		case <-p.done:
			return 0, fmt.Errorf("%s exited before ready:\n%s", p.Name, p.Tail(20))
		case <-time.After(10 * time.Millisecond):
		}
	}
	return 0, fmt.Errorf("%s not ready after %v:\n%s", p.Name, timeout, p.Tail(20))
}

// Pid returns the process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Signal sends sig to the process; it returns an error once the process has
// exited.
func (p *Process) Signal(sig os.Signal) error {
	select {
	case <-p.done:
		return errors.New(p.Name + " has exited")
	default:
	}
	return p.cmd.Process.Signal(sig)
}

// Stop ends the process with SIGINT (a clean shutdown), or SIGKILL after 20
// s, and waits for it.
func (p *Process) Stop() {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
	case <-time.After(stopGrace):
		p.Kill()
	}
}

// Kill ends the process with SIGKILL and waits for it.
func (p *Process) Kill() {
	p.cmd.Process.Kill()
	<-p.done
}
