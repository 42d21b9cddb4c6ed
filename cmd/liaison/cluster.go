package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/liaison-hub/liaison/eventlog/codec"
	"github.com/liaison-hub/liaison/eventlog/esdb"
)

// A hub on an EventStoreDB/KurrentDB cluster (docs/operations.md, "When the
// cluster is away"): it waits at start for a cluster with a leader, at most
// --cluster-timeout; while it runs, /readyz is 503 as soon as the cluster
// stops answering (esdb.Log.Health), and the hub exits with an error when the
// cluster has not answered for longer than --cluster-timeout, so that its
// orchestrator restarts it; the projections go on where they stopped when the
// cluster is back before that.

// DefaultClusterTimeout is --cluster-timeout's default.
const DefaultClusterTimeout = 2 * time.Minute

// ESDBPasswordEnv holds the password of --esdb-username (never a flag: the
// command line is visible to every user of the machine).
const ESDBPasswordEnv = "LIAISON_ESDB_PASSWORD"

// openESDB opens the cluster log of --esdb-url, waiting for a cluster with a
// leader for at most --cluster-timeout (0: as long as ctx lasts).
func (m *Main) openESDB(ctx context.Context) (*esdb.Log, error) {
	cfg := m.Config
	if cfg.ESDBURL == "" {
		return nil, errors.New("--store esdb needs --esdb-url")
	}
	opts := esdb.Options{URL: cfg.ESDBURL, Logger: m.Logger}
	if cfg.ESDBUsername != "" {
		opts.Username, opts.Password = cfg.ESDBUsername, os.Getenv(ESDBPasswordEnv)
		if opts.Password == "" {
			return nil, fmt.Errorf("--esdb-username needs the password in %s", ESDBPasswordEnv)
		}
	}
	// Calls ride out an absence of the cluster longer than the hub does: the
	// hub, not one of its jobs, decides when it has lasted too long.
	opts.RetryFor = 365 * 24 * time.Hour
	if cfg.ClusterTimeout > 0 {
		opts.RetryFor = 2*cfg.ClusterTimeout + 30*time.Second
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.ClusterTimeout)
		defer cancel()
	}
	l, err := esdb.Open(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("--esdb-url: %w", err)
	}
	return l, nil
}

// runCluster runs, until ctx ends, what a hub on a cluster does beside its
// calls: it follows the destruction of case keys by every replica, so that
// a key erased elsewhere leaves this hub's caches at once, and it ends the
// hub (an error on Err) when the cluster has been away for longer than
// --cluster-timeout.
func (m *Main) runCluster(ctx context.Context, keys *esdb.KeyStore, cdc *codec.Codec) {
	keys.OnDestroy(cdc.Forget)
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		if err := keys.Watch(ctx); err != nil {
			m.Logger.Error("the watch of erased keys stopped; they leave the caches when they expire", "err", err)
		}
	}()
	timeout := m.Config.ClusterTimeout
	if timeout <= 0 {
		return
	}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		every := min(max(timeout/10, 50*time.Millisecond), time.Second)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			since := m.esdbLog.LostSince()
			if since.IsZero() || time.Since(since) <= timeout {
				continue
			}
			err := fmt.Errorf("the EventStoreDB/KurrentDB cluster has not answered since %s, longer than --cluster-timeout %s: stopping so that the hub is restarted", since.UTC().Format(time.RFC3339), timeout)
			m.Logger.Error("cluster lost", "since", since, "cluster_timeout", timeout)
			select {
			case m.runErr <- err:
			case <-ctx.Done():
			}
			return
		}
	}()
}
