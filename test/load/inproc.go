package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"sync"
	"time"

	"github.com/liaison-hub/liaison/api"
	"github.com/liaison-hub/liaison/eventlog/accesslog"
	"github.com/liaison-hub/liaison/eventlog/codec"
	"github.com/liaison-hub/liaison/eventlog/embedded"
	"github.com/liaison-hub/liaison/eventlog/follow"
	"github.com/liaison-hub/liaison/eventlog/keystore"
	"github.com/liaison-hub/liaison/eventlog/transparency"
	"github.com/liaison-hub/liaison/hub"
	"github.com/liaison-hub/liaison/policies"
	"github.com/liaison-hub/liaison/projections"
	"github.com/liaison-hub/liaison/test/proc"
)

// inprocHub is the in-process equivalent of "liaison serve" on a data
// directory: the wiring of cmd/liaison/serve.go (embedded store, development
// key, default policy, no rate limit), in this process, so that Go's own
// profilers and execution tracer can see it whole (perf on the hub process
// loses the roots of deep OPA stacks, and cannot say where requests wait).
type inprocHub struct {
	base   string
	store  *embedded.Store
	trees  *transparency.Trees
	srv    *http.Server
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func startInproc(ctx context.Context, data string) (h *inprocHub, err error) {
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	h = &inprocHub{}
	defer func() {
		if err != nil {
			h.close()
		}
	}()
	if h.store, err = embedded.Open(filepath.Join(data, "log"), embedded.Options{Logger: logger, KVSpans: transparency.TableSpan}); err != nil {
		return nil, err
	}
	master, err := keystore.LoadMasterKey("LIAISON_MASTER_KEY", "", filepath.Join(data, "master.key"))
	if err != nil {
		return nil, err
	}
	keys, err := keystore.OpenFileStore(filepath.Join(data, "casekeys"), master)
	if err != nil {
		return nil, err
	}
	cdc := codec.New(keys)
	policy, err := policies.New(ctx, policies.Default(), policies.Options{})
	if err != nil {
		return nil, err
	}
	devKey, err := api.LoadOrCreateDevKey(data)
	if err != nil {
		return nil, err
	}
	projector := projections.New(h.store, cdc, logger)
	projector.OnErased = func(ctx context.Context, caseID string) error { return keys.Destroy(ctx, caseID) }
	access := accesslog.New(h.store)
	ckey, err := transparency.LoadOrCreateKey(data)
	if err != nil {
		return nil, err
	}
	h.trees, err = transparency.Open(ctx, transparency.Config{KV: h.store, Journal: h.store, Events: h.store, Key: ckey,
		JournalConsumers: []follow.Consumer{new(accesslog.QueryIndex)}, Clock: time.Now, Logger: logger})
	if err != nil {
		return nil, err
	}
	metrics := api.NewMetrics()
	svc, err := hub.New(hub.Config{
		Log: h.store, Projector: projector, Codec: cdc, Keys: keys, Policy: policy, Access: access,
		Audit: accesslog.NewService(access, h.store, h.trees), Logger: logger, Clock: time.Now,
		StatusOf: api.StatusOf, OnAppend: metrics.Appended,
	})
	if err != nil {
		return nil, err
	}
	server := api.New(api.Config{
		Hub: svc, Verifier: api.NewVerifier(api.DevKeys(devKey), api.DevIssuer, api.DevAudience, time.Now),
		Metrics: metrics, Logger: logger, Clock: time.Now, AdminRoute: true,
	})
	runCtx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	h.wg.Add(2)
	go func() { defer h.wg.Done(); projector.Run(runCtx) }()
	go func() {
		defer h.wg.Done()
		for !projector.Ready() {
			select {
			case <-runCtx.Done():
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
		h.trees.Run(runCtx)
	}()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	h.srv = &http.Server{
		Handler: server.Handler(), ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 60 * time.Second, IdleTimeout: 120 * time.Second, MaxHeaderBytes: 64 << 10,
	}
	h.wg.Add(1)
	go func() { defer h.wg.Done(); h.srv.Serve(ln) }()
	h.base = "http://" + ln.Addr().String()
	for !projector.Ready() {
		time.Sleep(10 * time.Millisecond)
	}
	return h, nil
}

func (h *inprocHub) close() {
	if h.srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		h.srv.Shutdown(ctx)
		cancel()
	}
	if h.cancel != nil {
		h.cancel()
	}
	h.wg.Wait()
	if h.trees != nil {
		h.trees.Close(context.Background())
	}
	if h.store != nil {
		h.store.Close()
	}
}

// diagnose runs P3's single and many reads and P4 once more against the
// in-process equivalent of the hub on data (the hub process stopped), with CPU
// profiles of P3 (DIR/p3-inproc.cpu, DIR/p3many-inproc.cpu) and an execution
// trace of P4 (DIR/p4-inproc.trace:
// go tool trace -pprof=sched|syscall|sync|net shows where requests wait).
// The figures are not the table's: the load generator shares the process.
func diagnose(ctx context.Context, o options, rep *report, data string, single *request, many picker) error {
	h, err := startInproc(ctx, data)
	if err != nil {
		return fmt.Errorf("in-process hub: %w", err)
	}
	defer h.close()
	next := func(*rand.Rand) *request { return single }
	for _, run := range []struct {
		name, file string
		next       picker
	}{{"P3 single read", "p3-inproc.cpu", next}, {"P3 many reads", "p3many-inproc.cpu", many}} {
		warm(ctx, h.base, run.next, 2*time.Second)
		cpu, err := os.Create(filepath.Join(o.trace, run.file))
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(cpu); err != nil {
			cpu.Close()
			return errors.Join(err, errors.New("in-process CPU profile (is --cpuprofile set?)"))
		}
		st := closedLoop(ctx, h.base, o.connections, o.duration, run.next)
		pprof.StopCPUProfile()
		cpu.Close()
		rep.note("diagnosis, in-process equivalent of the hub: %s %.0f req/s (CPU profile %s)", run.name, st.rate(), cpu.Name())
	}

	tf, err := os.Create(filepath.Join(o.trace, "p4-inproc.trace"))
	if err != nil {
		return err
	}
	if err := trace.Start(tf); err != nil {
		tf.Close()
		return err
	}
	st := openLoop(ctx, h.base, o.rate, o.p4Duration, 256, next)
	trace.Stop()
	tf.Close()
	lat := st.all()
	rep.note("diagnosis, in-process equivalent of the hub: P4 at %d req/s, p50 %s, p99 %s, %.1f%% over 10 ms (execution trace %s)",
		o.rate, ms(pct(lat, 50)), ms(pct(lat, 99)), over(lat, 10*time.Millisecond), tf.Name())
	return nil
}

// diagnoseMemory runs P8's warm-up and load on the in-process equivalent of
// the hub over the largest seeded data directory and writes a heap profile
// of everything live afterwards (DIR/p8-inproc.heap; go tool pprof
// -sample_index=inuse_space): what the hub's heap holds beyond the
// projections, which the hub process cannot show.
func diagnoseMemory(ctx context.Context, o options, rep *report, bin, data string, cases []string) error {
	h, err := startInproc(ctx, data)
	if err != nil {
		return fmt.Errorf("in-process hub: %w", err)
	}
	defer h.close()
	f, err := newFixture(bin, data, &child{&proc.Process{Name: "in-process hub", Base: h.base, AdminBase: h.base}})
	if err != nil {
		return err
	}
	r := rand.New(rand.NewPCG(5, 6))
	for _, i := range r.Perm(len(cases))[:min(len(cases), 5000)] {
		f.cases = append(f.cases, cases[i])
	}
	if err := f.probeAppends(r, 10); err != nil {
		return err
	}
	warm(ctx, h.base, f.mix(), 5*time.Second)
	closedLoop(ctx, h.base, o.connections, o.duration, f.mix())
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	hf, err := os.Create(filepath.Join(o.trace, "p8-inproc.heap"))
	if err != nil {
		return err
	}
	defer hf.Close()
	if err := pprof.Lookup("heap").WriteTo(hf, 0); err != nil {
		return err
	}
	rep.note("diagnosis, in-process equivalent of the hub over the largest P8 size after warm-up and load: %s live heap (harness included); heap profile %s",
		mib(int64(ms.HeapAlloc)), hf.Name())
	return nil
}
