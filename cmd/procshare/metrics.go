package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/procshare/procshare/manager"
)

// Metrics of procshare serve --metrics-address, in Prometheus's text format
// at /metrics, and a health check at /healthz. Only this command links
// client_golang: the manager package reports through
// manager.ServerObserver and Server.Stats.

// promObserver is the manager.ServerObserver that counts into Prometheus
// metrics. Safe for concurrent use.
type promObserver struct {
	conns    *prometheus.CounterVec
	calls    *prometheus.CounterVec
	duration *prometheus.HistogramVec

	// byCall caches the metrics of each (typeid, method, outcome), which
	// the server draws from fixed sets: a lookup in client_golang's label
	// maps per call costs more than this.
	byCall sync.Map // callKey -> callMetrics
}

type callKey struct{ typeid, method, outcome string }

type callMetrics struct {
	count    prometheus.Counter
	duration prometheus.Observer
}

func newPromObserver(reg prometheus.Registerer) *promObserver {
	o := &promObserver{
		conns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "procshare_connections_total",
			Help: "Connections accepted, by the outcome of their handshake (ok, failed, refused).",
		}, []string{"outcome"}),
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "procshare_calls_total",
			Help: "Requests answered, by typeid (\"\" for server methods), method and outcome (ok, error: a Python exception, traceback: refused by the server).",
		}, []string{"typeid", "method", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "procshare_call_duration_seconds",
			Help:    "Time from a request's arrival to its reply, waits of blocking calls included.",
			Buckets: []float64{1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 0.01, 0.03, 0.1, 0.3, 1, 3, 10},
		}, []string{"typeid", "method"}),
	}
	reg.MustRegister(o.conns, o.calls, o.duration)
	return o
}

func (o *promObserver) Connection(outcome string) { o.conns.WithLabelValues(outcome).Inc() }

func (o *promObserver) Call(typeid, method, outcome string, d time.Duration) {
	k := callKey{typeid, method, outcome}
	m, ok := o.byCall.Load(k)
	if !ok {
		m, _ = o.byCall.LoadOrStore(k, callMetrics{
			count:    o.calls.WithLabelValues(typeid, method, outcome),
			duration: o.duration.WithLabelValues(typeid, method),
		})
	}
	cm := m.(callMetrics)
	cm.count.Inc()
	cm.duration.Observe(d.Seconds())
}

// statsCollector exports a server's Stats as gauges, read at each scrape.
type statsCollector struct {
	srv                                        *manager.Server
	conns, objects, blocked, memUsed, memLimit *prometheus.Desc
}

func newStatsCollector(srv *manager.Server) *statsCollector {
	return &statsCollector{
		srv:      srv,
		conns:    prometheus.NewDesc("procshare_open_connections", "Connections open now, those in the handshake included.", nil, nil),
		objects:  prometheus.NewDesc("procshare_objects", "Shared objects the server holds.", nil, nil),
		blocked:  prometheus.NewDesc("procshare_blocked_calls", "Calls waiting now (queue get, lock acquire, event wait, …).", nil, nil),
		memUsed:  prometheus.NewDesc("procshare_memory_used_bytes", "Bytes charged to the memory budget (--max-memory).", nil, nil),
		memLimit: prometheus.NewDesc("procshare_memory_budget_bytes", "The memory budget (--max-memory); -1: none.", nil, nil),
	}
}

func (c *statsCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.conns
	ch <- c.objects
	ch <- c.blocked
	ch <- c.memUsed
	ch <- c.memLimit
}

func (c *statsCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.srv.Stats()
	ch <- prometheus.MustNewConstMetric(c.conns, prometheus.GaugeValue, float64(st.Connections))
	ch <- prometheus.MustNewConstMetric(c.objects, prometheus.GaugeValue, float64(st.Objects))
	ch <- prometheus.MustNewConstMetric(c.blocked, prometheus.GaugeValue, float64(st.BlockedCalls))
	ch <- prometheus.MustNewConstMetric(c.memUsed, prometheus.GaugeValue, float64(st.MemoryUsed))
	ch <- prometheus.MustNewConstMetric(c.memLimit, prometheus.GaugeValue, float64(st.MemoryBudget))
}

// metricsServer serves /metrics and /healthz for srv on ln until ctx ends
// or the server stops. /healthz answers 200 "ok" while the server serves,
// 503 once it is stopping.
func metricsServer(ctx context.Context, ln net.Listener, reg *prometheus.Registry, srv *manager.Server, stderr io.Writer) {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-srv.Done():
			http.Error(w, "stopping", http.StatusServiceUnavailable)
		default:
			fmt.Fprintln(w, "ok")
		}
	})
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		select {
		case <-ctx.Done():
		case <-srv.Done():
		}
		sctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		hs.Shutdown(sctx)
	}()
	if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintf(stderr, "procshare: metrics server: %v\n", err)
	}
}

// newMetrics sets up the registry and the observer of --metrics-address:
// the server's metrics, Go's runtime and the process's.
func newMetrics() (*prometheus.Registry, *promObserver) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg, newPromObserver(reg)
}
