package main

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"time"
)

// row is one line of the table.
type row struct {
	figure, value, ceiling, ratio, goal, met string
}

// report collects the table and the notes that explain it.
type report struct {
	rows  []row
	notes []string
}

func (r *report) add(x row) {
	r.rows = append(r.rows, x)
	line := "load: " + x.figure + ": " + x.value
	if x.ceiling != "" {
		line += " (ceiling " + x.ceiling + ", ratio " + dash(x.ratio) + ")"
	}
	fmt.Fprintln(os.Stderr, line)
}

func (r *report) note(format string, args ...any) {
	s := fmt.Sprintf(format, args...)
	r.notes = append(r.notes, s)
	fmt.Fprintln(os.Stderr, "load: "+s)
}

// markdown renders the table and the notes.
func (r *report) markdown() string {
	var b strings.Builder
	b.WriteString("| figure | value | ceiling (same run) | ratio | goal | met |\n|---|---|---|---|---|---|\n")
	for _, x := range r.rows {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", x.figure, dash(x.value), dash(x.ceiling), dash(x.ratio), dash(x.goal), dash(x.met))
	}
	if len(r.notes) > 0 {
		b.WriteString("\n")
		for _, n := range r.notes {
			b.WriteString("- " + n + "\n")
		}
	}
	return b.String()
}

func dash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

func yesNo(ok bool) string {
	if ok {
		return "yes"
	}
	return "**no**"
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func medianDur(ds []time.Duration) time.Duration {
	xs := make([]float64, len(ds))
	for i, d := range ds {
		xs[i] = float64(d)
	}
	return time.Duration(median(xs))
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }

func mib(b int64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }

func list(xs []float64, format string) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = fmt.Sprintf(format, x)
	}
	return strings.Join(parts, ", ")
}

// machine describes where the harness ran.
func machine(dir string) string {
	model := "?"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "model name") {
				model = strings.TrimSpace(line[strings.Index(line, ":")+1:])
				break
			}
		}
	}
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	disk := "?"
	if out, err := exec.Command("df", "--output=source,fstype", dir).Output(); err == nil {
		if lines := strings.Split(strings.TrimSpace(string(out)), "\n"); len(lines) > 1 {
			disk = strings.Join(strings.Fields(lines[1]), " ")
		}
	}
	return fmt.Sprintf("%d CPUs (%s), kernel %s, %s, data on %s", runtime.NumCPU(), model,
		strings.TrimSpace(string(kernel)), runtime.Version(), disk)
}

// loadavg is the first field of /proc/loadavg: how busy the machine was.
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Fields(string(b))[0]
}
