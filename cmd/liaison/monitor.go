package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/liaison-hub/liaison/eventlog"
	"github.com/liaison-hub/liaison/eventlog/accesslog"
	"github.com/liaison-hub/liaison/hub"
	"github.com/liaison-hub/liaison/policies"
)

// AlertWebhookSecretEnv holds the secret ("whsec_" and base64) that signs the
// deliveries of --alert-webhook.
const AlertWebhookSecretEnv = "LIAISON_ALERT_WEBHOOK_SECRET"

// MonitorConfig configures the privacy monitor of the access log
// (docs/monitoring.md).
type MonitorConfig struct {
	// Off turns the monitor off (--monitor=false).
	Off bool
	// Rules is a monitoring rules bundle replacing the default
	// (--monitor-rules: a directory or .tar.gz).
	Rules string
	// Webhook is the oversight board's endpoint new alerts are posted to
	// (--alert-webhook), signed with the secret in AlertWebhookSecretEnv.
	Webhook string
}

// register adds the monitor's flags to fs.
func (c *MonitorConfig) register(fs *flag.FlagSet) {
	fs.BoolFunc("monitor", "run the privacy monitor of the access log (default true; --monitor=false: none; see docs/monitoring.md)", func(s string) error {
		on, err := strconv.ParseBool(s)
		c.Off = !on
		return err
	})
	fs.StringVar(&c.Rules, "monitor-rules", "", "monitoring rules bundle (directory or .tar.gz) replacing the default rules and thresholds")
	fs.StringVar(&c.Webhook, "alert-webhook", "", "URL the monitor's new alerts are posted to, signed with the secret in "+AlertWebhookSecretEnv)
}

// openMonitor loads the monitoring rules and the monitor's state, and
// registers its metrics; nil when the monitor is off.
func (m *Main) openMonitor(ctx context.Context, access *accesslog.Log, kv eventlog.KV, reg *prometheus.Registry) (*hub.Monitor, error) {
	cfg := m.Config.Monitor
	if cfg.Off {
		m.Logger.Warn("the privacy monitor is off (--monitor=false): no alerts are raised")
		return nil, nil
	}
	bundle := policies.DefaultMonitorBundle()
	if cfg.Rules != "" {
		var err error
		if bundle, err = policies.Load(ctx, cfg.Rules); err != nil {
			return nil, fmt.Errorf("monitoring rules %s refused: %w", cfg.Rules, err)
		}
	}
	rules, err := policies.NewMonitorRules(ctx, bundle)
	if err != nil {
		return nil, err
	}
	secret := os.Getenv(AlertWebhookSecretEnv)
	if cfg.Webhook != "" {
		u, err := url.Parse(cfg.Webhook)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return nil, errors.New("--alert-webhook must be an http or https URL")
		}
		if _, err := hub.SignWebhook(secret, "", "", nil); err != nil {
			return nil, fmt.Errorf("--alert-webhook needs a secret (whsec_ and base64) in %s", AlertWebhookSecretEnv)
		}
	}
	alerts := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "liaison_monitor_alerts_total", Help: "Alerts the privacy monitor raised since start, by rule.",
	}, []string{"rule"})
	for _, r := range rules.Rules() {
		alerts.WithLabelValues(r)
	}
	mon, err := hub.NewMonitor(ctx, hub.MonitorConfig{
		Access: access, KV: kv, Rules: rules, Directory: m.Policy.Directory, Projector: m.Projector, Logger: m.Logger,
		OnAlert: func(rule string) { alerts.WithLabelValues(rule).Inc() }, Webhook: cfg.Webhook, WebhookSecret: secret,
	})
	if err != nil {
		return nil, fmt.Errorf("monitor: %w", err)
	}
	reg.MustRegister(alerts, prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "liaison_monitor_cpu_seconds_total", Help: "CPU time the privacy monitor has spent evaluating access records since start (Linux only).",
	}, func() float64 { return mon.CPU().Seconds() }), prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "liaison_monitor_lag_records", Help: "Access records the privacy monitor has not evaluated yet.",
	}, func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		n, err := access.Len(ctx)
		if err != nil {
			return -1
		}
		return float64(n) - float64(mon.Evaluated())
	}))
	m.Logger.Info("privacy monitor", "rules", rules.Rules(), "revision", rules.Revision(), "from_record", mon.Evaluated())
	return mon, nil
}

// runMonitor has every append wake the monitor as well as the access log's
// trees, and runs it once the views are ready (it asks them whether a reader
// has a relationship with a case) until ctx ends.
func (m *Main) runMonitor(ctx context.Context, access *accesslog.Log, mon *hub.Monitor) {
	if mon == nil {
		return
	}
	trees := m.trees
	access.OnAppend(func() { trees.NotifyAccess(); mon.Notify() })
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		for !m.Projector.Ready() {
			select {
			case <-ctx.Done():
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
		mon.Run(ctx)
	}()
}
