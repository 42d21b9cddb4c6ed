// Command load is Liaison's load harness (docs/targets.md, P3, P4, P8, P11 and
// the realistic mix of "How targets are measured"). It builds the liaison binary
// (or takes --binary), starts hubs as child processes on temporary data
// directories, measures each figure beside its ceiling in the same run,
// alternating hub and ceiling runs, and prints one table: figure, value,
// ceiling, ratio, goal, met.
//
//	go run ./test/load                 # the default run, a few minutes
//	go run ./test/load --full          # P8 up to 50k cases / 1M events
//	go run ./test/load --out FILE.md   # also write the table as markdown
//	go run ./test/load --only feed     # P11, the feed (feed.go), not in the default run
//
// The ceiling of P3 is a bare Echo endpoint in a child process of this binary
// (re-executed with the hidden -ceiling-serve flag) that answers every request
// with the very bytes the hub answered it with; both are loaded by the same
// generator (gen.go) at the same number of keep-alive connections.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"
)

// options are the harness's flags.
type options struct {
	binary      string
	duration    time.Duration
	p4Duration  time.Duration
	connections int
	runs        int
	cases       int
	rate        int
	full        bool
	p8Sizes     []int
	only        map[string]bool
	out         string
	keep        bool
	seedWorkers int
	perf        string
	heapProfile string
	trace       string
}

func main() {
	var o options
	ceiling := flag.String("ceiling-serve", "", "") // hidden: run as the ceiling server
	flag.StringVar(&o.binary, "binary", "", "liaison binary to run (default: build ./cmd/liaison)")
	flag.DurationVar(&o.duration, "duration", 8*time.Second, "length of each throughput run (P3, the mix, P8's load)")
	flag.DurationVar(&o.p4Duration, "p4-duration", 10*time.Second, "length of each constant-rate run (P4)")
	flag.IntVar(&o.connections, "connections", 64, "concurrent keep-alive connections of the throughput runs")
	flag.IntVar(&o.runs, "runs", 3, "runs of each figure (hub and ceiling alternate); medians are reported")
	flag.IntVar(&o.cases, "cases", 300, "demo cases loaded through the API for P3, P4 and the mix")
	flag.IntVar(&o.rate, "rate", 1000, "requests per second of P4")
	flag.BoolVar(&o.full, "full", false, "P8 at 250k, 500k and 1M events (50k cases) instead of --p8-events")
	p8 := flag.String("p8-events", "250000,500000", "P8: event counts to seed and measure, comma-separated, ascending")
	only := flag.String("only", "p3,p4,mix,p8", "figures to measure, comma-separated (also: feed, P11, not in the default run: several minutes on its own; monitor: the mix with and without the privacy monitor)")
	flag.StringVar(&o.out, "out", "", "also write the table, machine and notes as markdown to this file")
	flag.BoolVar(&o.keep, "keep", false, "keep the temporary data directories")
	flag.IntVar(&o.seedWorkers, "seed-workers", 256, "cases appended concurrently by P8's seeding")
	flag.StringVar(&o.perf, "perf", "", "record a perf CPU profile of the hub during the first run of each figure into this directory")
	flag.StringVar(&o.heapProfile, "heap-profile", "", "after P8, rebuild the projections of the largest size in-process and write their heap profile to this file")
	flag.StringVar(&o.trace, "trace", "", "diagnosis: rerun P3 and P4 (after the mix) and P8's load (after the largest size) on an in-process equivalent of the hub, writing a CPU profile, an execution trace and a heap profile to this directory")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the harness itself (seeding, load generation) to this file")
	flag.Parse()
	if *ceiling != "" {
		if err := serveCeiling(*ceiling); err != nil {
			fmt.Fprintln(os.Stderr, "ceiling:", err)
			os.Exit(1)
		}
		return
	}
	if o.full {
		*p8 = "250000,500000,1000000"
	}
	for _, s := range strings.Split(*p8, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n <= 0 {
			fmt.Fprintln(os.Stderr, "--p8-events: not a count:", s)
			os.Exit(2)
		}
		o.p8Sizes = append(o.p8Sizes, n)
	}
	for _, dir := range []string{o.perf, o.trace} {
		if dir == "" {
			continue
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			fmt.Fprintln(os.Stderr, "load:", err)
			os.Exit(2)
		}
	}
	o.only = map[string]bool{}
	for _, s := range strings.Split(*only, ",") {
		o.only[strings.TrimSpace(s)] = true
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "load: --cpuprofile:", err)
			os.Exit(2)
		}
		defer pprof.StopCPUProfile()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	tmp, err := os.MkdirTemp("", "liaison-load-")
	if err != nil {
		return err
	}
	if o.keep {
		fmt.Fprintln(os.Stderr, "load: data under", tmp)
	} else {
		defer os.RemoveAll(tmp)
	}
	bin := o.binary
	if bin == "" {
		if bin, err = buildHub(tmp); err != nil {
			return err
		}
	}
	if bin, err = filepath.Abs(bin); err != nil {
		return err
	}
	start := time.Now()
	rep := &report{}
	load0 := loadavg()
	if o.only["p3"] || o.only["p4"] || o.only["mix"] {
		if err := measureAPI(ctx, o, bin, tmp, rep); err != nil {
			return err
		}
	}
	if o.only["p8"] {
		if err := measureP8(ctx, o, bin, tmp, rep); err != nil {
			return err
		}
	}
	if o.only["monitor"] {
		if err := measureMonitor(ctx, o, bin, tmp, rep); err != nil {
			return err
		}
	}
	if o.only["feed"] {
		if err := measureFeed(ctx, o, bin, tmp, rep); err != nil {
			return err
		}
	}
	host := machine(tmp)
	cmd := "go run ./test/load " + strings.Join(os.Args[1:], " ")
	rep.note("machine: %s; load average %s at start, %s at the end; took %v", host, load0, loadavg(), time.Since(start).Round(time.Second))
	table := rep.markdown()
	fmt.Println(table)
	if o.out != "" {
		doc := fmt.Sprintf("Measured %s with `%s`.\n\n%s", time.Now().UTC().Format("2006-01-02 15:04 MST"), strings.TrimSpace(cmd), table)
		if err := os.WriteFile(o.out, []byte(doc), 0o644); err != nil {
			return err
		}
	}
	return nil
}
